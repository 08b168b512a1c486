//! The conversation service: everything a call needs, built once at start-up (recognizer
//! pool, VAD weights, intent matcher, dialogue tables, rendered audio as playable prompts,
//! accounting recorder, runtime switches), shared by the per-call tasks of [`call`].

pub mod call;
pub mod content;
pub mod live;
mod recognize;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use content::ContentSlot;

use anyhow::Context;
use ivr_accounting::{Pseudonymizer, Recorder};
use ivr_dialogue::endpointing::EndpointingConfig;
use ivr_dialogue::hours::OpeningHours;
use ivr_dialogue::policy::{DialogueConfig, Flow, Switches};
use ivr_dialogue::switches::{describe, SwitchesCache, SwitchesFile};
use ivr_speech::asr::{AsrConfig, Recognizer};
use ivr_speech::pool::AsrPool;
use ivr_speech::vad::SileroVad;

/// Whether calls are taken as inside opening hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HoursMode {
    /// The CCTP calendar (9:00–16:30 Mon–Fri, Paris, French public holidays).
    Calendar,
    /// Always open (tests, demonstrations outside office hours).
    AlwaysOpen,
    /// Always closed (exceptional closure; tests of the closed message).
    ForceClosed,
}

pub struct ServiceOptions {
    pub model: PathBuf,
    pub asr_workers: usize,
    pub asr_threads: usize,
    pub asr_queue: usize,
    /// Steps below the process the recognition workers run (0 when the media path could
    /// be raised instead; see `ivr_speech::priority`).
    pub asr_nice: i32,
    /// See `ivr serve --wait-prompt-after-ms`.
    pub wait_prompt_after: Option<std::time::Duration>,
    pub hours: HoursMode,
    /// Header of the INVITE naming the flow ("2" or "3").
    pub flow_header: String,
    /// Runtime switches file (saturation, crisis, closed), polled at every call start.
    pub switches: PathBuf,
    /// Which INVITE header names the caller (see [`CallerIdConfig`]).
    pub caller_id: CallerIdConfig,
}

/// The accounting side of the service: the recorder (events, call records, procedure
/// requests) and the same-day pseudonyms.
pub struct Accounting {
    pub recorder: Recorder,
    pub pseudonyms: Pseudonymizer,
}

/// The `[caller_id]` table of the configuration: where the caller's number is read.
///
/// A trunk that rewrites From (to its own number) still asserts the real caller in
/// P-Asserted-Identity (RFC 3325); that header is believed only from the trunk addresses
/// listed here ("*" = any source: the SIP port is reachable only by the trunk). With an
/// empty list, From alone is read. `Privacy: id` always means withheld.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallerIdConfig {
    pub trust_pai_from: Vec<String>,
}

impl Default for CallerIdConfig {
    fn default() -> Self {
        CallerIdConfig { trust_pai_from: vec!["*".into()] }
    }
}

impl CallerIdConfig {
    /// Whether P-Asserted-Identity from `source` is believed. Entries are "*", an IP
    /// address, or an IP with a prefix length ("10.1.0.0/16").
    pub fn trusts(&self, source: std::net::IpAddr) -> bool {
        self.trust_pai_from.iter().any(|entry| entry_matches(entry.trim(), source))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        for e in &self.trust_pai_from {
            let e = e.trim();
            if e != "*" && parse_net(e).is_none() {
                anyhow::bail!("[caller_id] trust_pai_from: `{e}` is not \"*\", an IP address or IP/prefix");
            }
        }
        Ok(())
    }
}

fn parse_net(entry: &str) -> Option<(std::net::IpAddr, u32)> {
    let (ip, len) = match entry.split_once('/') {
        Some((ip, len)) => (ip.parse::<std::net::IpAddr>().ok()?, len.parse::<u32>().ok()?),
        None => {
            let ip = entry.parse::<std::net::IpAddr>().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

fn entry_matches(entry: &str, source: std::net::IpAddr) -> bool {
    if entry == "*" {
        return true;
    }
    let Some((net, len)) = parse_net(entry) else { return false };
    let source = match source {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(source),
        v4 => v4,
    };
    let bits = |ip: std::net::IpAddr| -> u128 {
        match ip {
            std::net::IpAddr::V4(v) => u128::from(u32::from(v)) << 96,
            std::net::IpAddr::V6(v) => u128::from(v),
        }
    };
    if net.is_ipv4() != source.is_ipv4() {
        return false;
    }
    let (a, b) = (bits(net), bits(source));
    // IPv4 addresses sit in the top 32 bits, so both families keep their top `len` bits.
    let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
    a & mask == b & mask
}

/// The dialogue's fixed settings (limits, the agent queues by flow "2"/"3"), on which each
/// content version puts its tables.
pub fn base_dialogue(transfer: &BTreeMap<String, String>) -> DialogueConfig {
    let mut base = DialogueConfig::default();
    if let Some(t) = transfer.get("2") {
        base.transfer_choix2 = t.clone();
    }
    if let Some(t) = transfer.get("3") {
        base.transfer_choix3 = t.clone();
    }
    base
}

/// Shared state of all calls: read-only but for the switches file's cache and the content,
/// which a publication replaces (a call keeps the content it started with).
pub struct Service {
    pub(crate) content: Arc<ContentSlot>,
    /// With a database: the editors' draft, for calls to `[content] draft_user`.
    pub(crate) draft: Option<content::DraftSource>,
    pub(crate) pool: AsrPool,
    pub(crate) vad: Arc<SileroVad>,
    pub(crate) endpointing: EndpointingConfig,
    pub(crate) hours: OpeningHours,
    pub(crate) hours_mode: HoursMode,
    pub(crate) flow_header: String,
    pub(crate) accounting: Option<Accounting>,
    pub(crate) caller_id: CallerIdConfig,
    pub(crate) switches: Mutex<SwitchesFile>,
    /// With a database: the switches and closures set from the console, refreshed every
    /// second by [`live::Supervision`]; the file above is then not read.
    pub(crate) db_switches: Option<Arc<SwitchesCache>>,
    /// The calls in progress, for the supervisors' live view and `/metrics`.
    pub(crate) live: Arc<live::Live>,
    pub(crate) wait_prompt_after: Option<std::time::Duration>,
}

impl Service {
    pub fn build(opts: ServiceOptions, accounting: Option<Accounting>, content: Arc<ContentSlot>) -> anyhow::Result<Service> {
        let vad = SileroVad::load(&ivr_speech::vad::default_weights_path()).context("loading the VAD weights")?;
        let config = AsrConfig { threads: opts.asr_threads.max(1), ..AsrConfig::default() };
        let recognizer = Recognizer::load(&opts.model, config).with_context(|| format!("loading the Whisper model {}", opts.model.display()))?;
        let pool = AsrPool::whisper_at(&recognizer, opts.asr_workers.max(1), opts.asr_queue.max(1), opts.asr_nice)?;
        let switches = Mutex::new(SwitchesFile::new(&opts.switches));
        {
            let now = content.get();
            tracing::info!(
                content_version = now.version,
                clips = now.clips.len(),
                topics = now.dialogue.topics.len(),
                workers = opts.asr_workers,
                "conversation service ready"
            );
        }
        let accounting_db = accounting.is_some();
        let service = Service {
            content,
            draft: None,
            pool,
            vad,
            endpointing: EndpointingConfig::default(),
            hours: OpeningHours::default(),
            hours_mode: opts.hours,
            flow_header: opts.flow_header,
            accounting,
            caller_id: opts.caller_id,
            switches,
            db_switches: accounting_db.then(|| Arc::new(SwitchesCache::new())),
            live: Arc::default(),
            wait_prompt_after: opts.wait_prompt_after,
        };
        if service.db_switches.is_some() {
            tracing::info!("runtime switches and closures: from the database (console, `ivr switch`), read every second");
        } else {
            let now = service.switches_now();
            tracing::info!(file = %opts.switches.display(), switches = %describe(now), "runtime switches");
        }
        Ok(service)
    }

    /// The switches for a call starting now. The file is re-read only when it changed; one
    /// that cannot be read or parsed is reported and the last good state is used.
    pub(crate) fn switches_now(&self) -> Switches {
        if let Some(cache) = &self.db_switches {
            return cache.switches();
        }
        let mut file = self.switches.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = file.current();
        let now = match file.poll() {
            Ok(s) => s,
            Err(e) => {
                // TOML errors span lines (a caret under the column): one log line each.
                let reason = e.to_string().lines().map(str::trim).filter(|l| !l.is_empty() && *l != "|").collect::<Vec<_>>().join(" ");
                tracing::warn!(file = %file.path().display(), %reason, kept = %describe(file.current()), "switches file not usable: last good state kept");
                file.current()
            }
        };
        if now != before {
            tracing::info!(file = %file.path().display(), "switches changed: {} → {}", describe(before), describe(now));
        }
        now
    }

    pub(crate) fn is_open(&self, at: ivr_accounting::chrono::DateTime<ivr_accounting::chrono::Utc>) -> bool {
        // Exceptional closures (the supervisors' calendar) close their days in every mode
        // but forced closed: "always open" lifts the weekly hours, not a decided closure.
        let closures = self.db_switches.as_ref().map(|c| c.closures()).unwrap_or_default();
        match self.hours_mode {
            HoursMode::Calendar => self.hours.is_open_with(at, &closures),
            HoursMode::AlwaysOpen => !ivr_dialogue::hours::in_closure(at, &closures),
            HoursMode::ForceClosed => false,
        }
    }

    /// The flow from the trunk's header ("3" → choix 3), else from the dialled number's
    /// last digit, else choix 2.
    pub(crate) fn flow_of(&self, info: &ivr_telephony::app::CallInfo) -> Flow {
        let named = info.header(&self.flow_header).map(str::trim);
        let digit = named.or_else(|| info.dialled.as_deref().and_then(|d| d.get(d.len().saturating_sub(1)..)));
        match digit {
            Some("3") => Flow::Choix3,
            _ => Flow::Choix2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CallerIdConfig;

    #[test]
    fn pai_is_trusted_only_from_the_listed_trunks() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let any = CallerIdConfig::default();
        assert!(any.trusts(ip("203.0.113.9")));
        let list = CallerIdConfig { trust_pai_from: vec!["10.1.0.0/16".into(), "192.0.2.7".into(), "2001:db8::/32".into()] };
        list.validate().unwrap();
        assert!(list.trusts(ip("10.1.200.3")));
        assert!(!list.trusts(ip("10.2.0.1")));
        assert!(list.trusts(ip("192.0.2.7")));
        assert!(!list.trusts(ip("192.0.2.8")));
        assert!(list.trusts(ip("::ffff:192.0.2.7")), "IPv4-mapped source");
        assert!(list.trusts(ip("2001:db8:1::1")));
        assert!(!list.trusts(ip("2001:db9::1")));
        let none = CallerIdConfig { trust_pai_from: vec![] };
        assert!(!none.trusts(ip("127.0.0.1")));
        assert!(CallerIdConfig { trust_pai_from: vec!["10.0.0.0/33".into()] }.validate().is_err());
        assert!(CallerIdConfig { trust_pai_from: vec!["trunk.example".into()] }.validate().is_err());
    }
}
