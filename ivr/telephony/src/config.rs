//! `ivr serve` configuration (TOML). Every field has a built-in default, so an
//! empty file (or none) is a working configuration.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::sdp::Codec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverloadMode {
    /// 503 + Retry-After, so a dispatcher in front fails over to another instance.
    Reject,
    /// Answer, play the saturation prompt, hang up (when no dispatcher is in front).
    Announce,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtpPorts {
    pub min: u16,
    pub max: u16,
}

impl Default for RtpPorts {
    fn default() -> Self {
        Self { min: 20000, max: 29999 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// SIP UDP listen address.
    pub listen: SocketAddr,
    /// Address written in SDP, Contact and Via; defaults to the listen IP (or
    /// 127.0.0.1 when listening on 0.0.0.0).
    pub public_address: Option<IpAddr>,
    pub rtp_ports: RtpPorts,
    /// Symmetric RTP behind NAT: when media does not come from the SDP address, take
    /// the first source whose IP is the SDP's or the SIP peer's, then only that source
    /// and its SSRC. Off: media only from the SDP address and port.
    pub rtp_latching: bool,
    /// Offered/accepted codecs; the caller's order decides among these.
    pub codecs: Vec<Codec>,
    pub max_calls: usize,
    pub overload: OverloadMode,
    pub retry_after_s: u32,
    /// Hang up when no RTP arrived for this long (0 disables).
    pub rtp_timeout_s: u64,
    /// After a 202 to our REFER, a transfer without any NOTIFY for this long has failed
    /// (the bot goes on with the caller).
    pub transfer_notify_timeout_s: u64,
    /// Ring (180) this long before answering; 0 answers at once.
    pub ring_ms: u64,
    /// Session-Expires we accept at least (RFC 4028 Min-SE).
    pub min_session_expires_s: u32,
    /// Deliver decoded caller audio to the application.
    pub deliver_audio: bool,
    /// Transfer target URI per flow (the value of the flow header, e.g. "2" or "3").
    pub transfer: BTreeMap<String, String>,
    /// Header of the INVITE that names the flow (choix 2 or 3).
    pub flow_header: String,
    pub prompts: PromptsConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptsConfig {
    pub dir: PathBuf,
    pub greeting: String,
    pub saturation: String,
}

impl Default for PromptsConfig {
    fn default() -> Self {
        Self { dir: PathBuf::from("prompts/audio"), greeting: "greeting".into(), saturation: "saturation".into() }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 5060)),
            public_address: None,
            rtp_ports: RtpPorts::default(),
            rtp_latching: true,
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            max_calls: 400,
            overload: OverloadMode::Reject,
            retry_after_s: 30,
            rtp_timeout_s: 30,
            transfer_notify_timeout_s: 10,
            ring_ms: 0,
            min_session_expires_s: 90,
            deliver_audio: true,
            transfer: BTreeMap::new(),
            flow_header: "X-Flow".into(),
            prompts: PromptsConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid configuration {path}: {message}")]
    Syntax { path: String, message: String },
    #[error("invalid configuration: key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text).map_err(|e| match e {
            ConfigError::Syntax { message, .. } => ConfigError::Syntax { path: path.display().to_string(), message },
            other => other,
        })
    }

    /// Parses and validates; toml's messages already name the offending key.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax { path: String::new(), message: e.to_string() })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key, message: &str| Err(ConfigError::Invalid { key, message: message.to_string() });
        if self.rtp_ports.min == 0 || self.rtp_ports.min >= self.rtp_ports.max {
            return bad("rtp_ports", "min must be > 0 and below max");
        }
        if self.codecs.is_empty() {
            return bad("codecs", "at least one of PCMA, PCMU");
        }
        if self.max_calls == 0 {
            return bad("max_calls", "must be at least 1");
        }
        if (self.rtp_ports.max - self.rtp_ports.min) as usize / 2 + 1 < self.max_calls {
            return bad("max_calls", "larger than the RTP port range can carry (one even port per call)");
        }
        for (flow, uri) in &self.transfer {
            if !(uri.starts_with("sip:") || uri.starts_with("sips:") || uri.starts_with("tel:")) {
                return Err(ConfigError::Invalid { key: "transfer", message: format!("flow {flow}: `{uri}` is not a sip:, sips: or tel: URI") });
            }
        }
        Ok(())
    }

    pub fn public_ip(&self) -> IpAddr {
        match self.public_address {
            Some(ip) => ip,
            None if self.listen.ip().is_unspecified() => IpAddr::from([127, 0, 0, 1]),
            None => self.listen.ip(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::parse("max_cals = 3").unwrap_err().to_string();
        assert!(e.contains("max_cals"), "{e}");
        let e = Config::parse("codecs = [\"G729\"]").unwrap_err().to_string();
        assert!(e.contains("codecs"), "{e}");
        let e = Config::parse("[rtp_ports]\nmin = 3000\nmax = 2000").unwrap_err().to_string();
        assert!(e.contains("rtp_ports"), "{e}");
        let e = Config::parse("[transfer]\n2 = \"agents\"").unwrap_err().to_string();
        assert!(e.contains("transfer"), "{e}");
    }

    #[test]
    fn example_config_is_valid() {
        let text = include_str!("../../../ivr.example.toml");
        // The service's tables follow this marker; `ivr serve` splits them off (its own test).
        let text = text.split("# ---- service tables").next().unwrap();
        let cfg = Config::parse(text).unwrap();
        assert!(cfg.transfer.contains_key("2"));
    }
}
