//! SDP offer/answer (RFC 3264) for G.711 and RFC 4733 telephone-event, parsed with
//! webrtc-sdp. Written SDP is small and fixed in shape, so it is formatted directly.

use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;
use webrtc_sdp::{address::ExplicitlyTypedAddress, attribute_type::SdpAttribute, media_type::SdpFormatList};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    pub fn static_pt(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The direction an answer takes for an offer with this one (RFC 3264 §6.1).
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }
    pub fn attr(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
    /// May we send media in this (our) direction?
    pub fn we_send(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
}

/// What the remote side's SDP (offer or answer) says about its audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMedia {
    /// None when the peer put the stream on hold with 0.0.0.0 or refused it (port 0).
    pub addr: Option<SocketAddr>,
    /// Audio codecs we understand, in the peer's preference order, with their PT.
    pub codecs: Vec<(u8, Codec)>,
    pub telephone_event: Option<u8>,
    pub direction: Direction,
}

/// Result of negotiating one offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: Codec,
    pub pt: u8,
    pub telephone_event: Option<u8>,
    pub remote: Option<SocketAddr>,
    /// Our direction (in the answer we write).
    pub direction: Direction,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("unparsable SDP: {0}")]
    Parse(String),
    #[error("no audio stream in SDP")]
    NoAudio,
    #[error("no common codec")]
    NoCommonCodec,
}

/// Reads the first audio stream of a remote SDP.
pub fn parse_remote(body: &[u8]) -> Result<RemoteMedia, SdpError> {
    let text = std::str::from_utf8(body).map_err(|_| SdpError::Parse("not UTF-8".into()))?;
    // webrtc-sdp is strict about sections we do not use (video, odd attributes):
    // on failure, retry with the session lines and the audio section only.
    let session = match webrtc_sdp::parse_sdp(text, false) {
        Ok(s) => s,
        Err(e) => webrtc_sdp::parse_sdp(&audio_only(text), false).map_err(|_| SdpError::Parse(e.to_string()))?,
    };
    let media = session.media.iter().find(|m| matches!(m.get_type(), webrtc_sdp::media_type::SdpMediaValue::Audio)).ok_or(SdpError::NoAudio)?;
    let conn = media.get_connection().as_ref().or(session.get_connection().as_ref());
    let ip = conn.and_then(|c| match &c.address {
        ExplicitlyTypedAddress::Ip(ip) => Some(*ip),
        ExplicitlyTypedAddress::Fqdn { .. } => None,
    });
    let port = media.get_port();
    let addr = match ip {
        Some(ip) if !ip.is_unspecified() && port != 0 && port <= u16::MAX as u32 => Some(SocketAddr::new(ip, port as u16)),
        _ => None,
    };
    let pts: Vec<u32> = match media.get_formats() {
        SdpFormatList::Integers(v) => v.clone(),
        SdpFormatList::Strings(v) => v.iter().filter_map(|s| s.parse().ok()).collect(),
        _ => Vec::new(),
    };
    let mut rtpmap = Vec::new();
    let mut direction = Direction::SendRecv;
    for a in media.get_attributes().iter().chain(session.attribute.iter()) {
        match a {
            SdpAttribute::Rtpmap(m) => rtpmap.push((m.payload_type, m.codec_name.to_ascii_lowercase(), m.frequency)),
            SdpAttribute::Sendonly => direction = Direction::SendOnly,
            SdpAttribute::Recvonly => direction = Direction::RecvOnly,
            SdpAttribute::Inactive => direction = Direction::Inactive,
            _ => {}
        }
    }
    // RFC 2543-style hold: c=0.0.0.0 means "do not send to me".
    if ip.is_some_and(|i: IpAddr| i.is_unspecified()) && direction == Direction::SendRecv {
        direction = Direction::SendOnly;
    }
    let mut codecs = Vec::new();
    let mut telephone_event = None;
    for pt in pts {
        let Ok(pt8) = u8::try_from(pt) else { continue };
        let mapped = rtpmap.iter().find(|(p, _, _)| *p == pt8);
        let codec = match (pt8, mapped) {
            (_, Some((_, name, 8000))) if name == "pcmu" => Some(Codec::Pcmu),
            (_, Some((_, name, 8000))) if name == "pcma" => Some(Codec::Pcma),
            (_, Some((_, name, 8000))) if name == "telephone-event" => {
                telephone_event.get_or_insert(pt8);
                None
            }
            (0, None) => Some(Codec::Pcmu),
            (8, None) => Some(Codec::Pcma),
            _ => None,
        };
        if let Some(c) = codec {
            codecs.push((pt8, c));
        }
    }
    Ok(RemoteMedia { addr, codecs, telephone_event, direction })
}

/// Session-level lines plus the first audio m-section, keeping only the
/// attributes offer/answer needs.
fn audio_only(text: &str) -> String {
    let mut out = String::new();
    let mut section: Option<bool> = None; // None: session level; Some(is first audio)
    let mut seen_audio = false;
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(m) = line.strip_prefix("m=") {
            let is_audio = m.starts_with("audio") && !seen_audio;
            seen_audio |= is_audio;
            section = Some(is_audio);
        }
        let keep_attr = |l: &str| ["a=rtpmap:", "a=fmtp:", "a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv", "a=ptime:"].iter().any(|p| l.starts_with(p));
        let keep = match section {
            None => !line.starts_with("a=") || keep_attr(line),
            Some(true) => !line.starts_with("a=") || keep_attr(line),
            Some(false) => false,
        };
        if keep {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

/// Answers an offer: the first codec of the caller's list that we support
/// (the offerer's preference wins, RFC 3264 §6.1), or 488 material.
pub fn negotiate(offer: &RemoteMedia, supported: &[Codec]) -> Result<Negotiated, SdpError> {
    let (pt, codec) = offer.codecs.iter().find(|(_, c)| supported.contains(c)).copied().ok_or(SdpError::NoCommonCodec)?;
    Ok(Negotiated { codec, pt, telephone_event: offer.telephone_event, remote: offer.addr, direction: offer.direction.answer() })
}

/// Writes our SDP: an answer (one codec) or an offer (all our codecs).
pub fn write(ip: IpAddr, port: u16, session_version: u64, codecs: &[(u8, Codec)], telephone_event: Option<u8>, direction: Direction) -> String {
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut fmts: Vec<String> = codecs.iter().map(|(pt, _)| pt.to_string()).collect();
    if let Some(te) = telephone_event {
        fmts.push(te.to_string());
    }
    let mut s = format!(
        "v=0\r\no=ivr 3230 {session_version} IN {family} {ip}\r\ns=ivr\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {}\r\n",
        fmts.join(" ")
    );
    for (pt, c) in codecs {
        s.push_str(&format!("a=rtpmap:{pt} {}/8000\r\n", c.name()));
    }
    if let Some(te) = telephone_event {
        s.push_str(&format!("a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n"));
    }
    s.push_str(&format!("a=ptime:20\r\na={}\r\n", direction.attr()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(m: &str, extra: &str) -> String {
        format!("v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 40000 RTP/AVP {m}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n{extra}")
    }

    #[test]
    fn caller_preference_order_wins() {
        let o = parse_remote(offer("8 0 101", "").as_bytes()).unwrap();
        let n = negotiate(&o, &[Codec::Pcmu, Codec::Pcma]).unwrap();
        assert_eq!(n.codec, Codec::Pcma);
        assert_eq!(n.telephone_event, Some(101));
        assert_eq!(n.remote, Some("10.0.0.9:40000".parse().unwrap()));
        let o = parse_remote(offer("0 8 101", "").as_bytes()).unwrap();
        assert_eq!(negotiate(&o, &[Codec::Pcma, Codec::Pcmu]).unwrap().codec, Codec::Pcmu);
    }

    #[test]
    fn no_common_codec() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
        let o = parse_remote(sdp.as_bytes()).unwrap();
        assert_eq!(negotiate(&o, &[Codec::Pcma, Codec::Pcmu]), Err(SdpError::NoCommonCodec));
    }

    #[test]
    fn hold_by_sendonly_and_by_zero_address() {
        let o = parse_remote(offer("0", "a=sendonly\r\n").as_bytes()).unwrap();
        assert_eq!(negotiate(&o, &[Codec::Pcmu]).unwrap().direction, Direction::RecvOnly);
        let old = offer("0", "").replace("c=IN IP4 10.0.0.9", "c=IN IP4 0.0.0.0");
        let o = parse_remote(old.as_bytes()).unwrap();
        assert_eq!(o.addr, None);
        assert_eq!(o.direction, Direction::SendOnly);
    }

    #[test]
    fn written_answer_parses_back() {
        let s = write("127.0.0.1".parse().unwrap(), 20000, 2, &[(8, Codec::Pcma)], Some(101), Direction::SendRecv);
        let r = parse_remote(s.as_bytes()).unwrap();
        assert_eq!(r.codecs, vec![(8, Codec::Pcma)]);
        assert_eq!(r.telephone_event, Some(101));
        assert_eq!(r.addr, Some("127.0.0.1:20000".parse().unwrap()));
    }

    #[test]
    fn unusable_extra_sections_do_not_spoil_the_audio_offer() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.3\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n";
        let o = parse_remote(sdp.as_bytes()).unwrap();
        assert_eq!(o.codecs, vec![(0, Codec::Pcmu)]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_remote(b"\xff\xfe").is_err());
        assert!(parse_remote(b"v=0\r\nm=audio x\r\n").is_err());
    }
}
