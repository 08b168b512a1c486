//! The endpoint driven without sockets: SIP text in, outputs drained, a fake clock
//! advanced in 20 ms ticks, a fixed entropy source. The shell's part (binding RTP
//! ports) is played by [`Harness::drain`], which can be told that ports are busy.

use std::collections::HashSet;

use super::*;
use crate::app::TransferOutcome;

/// Deterministic "randomness": the same sequence for every endpoint built with it.
struct Counter(u64);

impl Entropy for Counter {
    fn next_u64(&mut self) -> u64 {
        self.0 += 1;
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

const PEER: &str = "192.0.2.1:5060";
const PEER_RTP: &str = "192.0.2.1:4000";

fn config() -> EndpointConfig {
    EndpointConfig {
        public_ip: "127.0.0.1".parse().unwrap(),
        sip_port: 5060,
        codecs: vec![Codec::Pcma, Codec::Pcmu],
        max_calls: 2,
        overload: OverloadMode::Reject,
        retry_after_s: 30,
        rtp_timeout: Duration::from_secs(30),
        transfer_notify_timeout: Duration::from_secs(10),
        ring: Duration::ZERO,
        min_session_expires_s: 90,
        deliver_audio: false,
        rtp_ports: (20000, 20006),
        rtp_latching: true,
        saturation_prompt: None,
    }
}

fn sdp(codecs: &str) -> String {
    let pts: Vec<&str> = codecs.split(' ').collect();
    let mut s = format!("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP {codecs}\r\n");
    for pt in pts {
        match pt {
            "0" => s.push_str("a=rtpmap:0 PCMU/8000\r\n"),
            "8" => s.push_str("a=rtpmap:8 PCMA/8000\r\n"),
            "18" => s.push_str("a=rtpmap:18 G729/8000\r\n"),
            "101" => s.push_str("a=rtpmap:101 telephone-event/8000\r\n"),
            _ => {}
        }
    }
    s.push_str("a=sendrecv\r\n");
    s
}

/// An INVITE (initial when `to_tag` is None) with `extra` header lines.
fn invite(call_id: &str, branch: &str, cseq: u32, to_tag: Option<&str>, body: &str, extra: &str) -> String {
    let to = match to_tag {
        Some(t) => format!("<sip:3230@127.0.0.1>;tag={t}"),
        None => "<sip:3230@127.0.0.1>".into(),
    };
    format!(
        "INVITE sip:3230@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\nMax-Forwards: 70\r\nFrom: <sip:caller@192.0.2.1>;tag=abc\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:caller@192.0.2.1:5060>\r\n{extra}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn in_dialog(method: &str, call_id: &str, branch: &str, cseq: u32, to_tag: &str, extra: &str, body: &str) -> String {
    format!(
        "{method} sip:ivr@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\nMax-Forwards: 70\r\nFrom: <sip:caller@192.0.2.1>;tag=abc\r\nTo: <sip:3230@127.0.0.1>;tag={to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:caller@192.0.2.1:5060>\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n\r\n").next()?.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn code(msg: &str) -> Option<u16> {
    msg.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

fn tag_of(to: &str) -> String {
    to.split(";tag=").nth(1).unwrap_or_default().split(';').next().unwrap_or_default().to_string()
}

/// Our answer to one of the endpoint's requests (REFER, BYE, UPDATE).
fn response_to(req: &str, status: u16) -> String {
    let mut r = format!("SIP/2.0 {status} Whatever\r\n");
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if let Some(v) = header(req, name) {
            r.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    r + "Content-Length: 0\r\n\r\n"
}

struct Harness {
    ep: Endpoint,
    now: Instant,
    /// SIP messages sent, as text.
    sip: Vec<String>,
    events: Vec<(String, CallEvent)>,
    opened: Vec<u16>,
    busy: HashSet<u16>,
}

impl Harness {
    fn new(cfg: EndpointConfig) -> Harness {
        Harness {
            ep: Endpoint::with_entropy(cfg, Box::new(Counter(0))),
            now: Instant::now(),
            sip: Vec::new(),
            events: Vec::new(),
            opened: Vec::new(),
            busy: HashSet::new(),
        }
    }

    fn sip_in(&mut self, text: &str) {
        self.ep.handle_input(self.now, Input::Sip { from: PEER.parse().unwrap(), bytes: text.as_bytes() });
        self.drain();
    }

    fn rtp_in(&mut self, from: &str, bytes: &[u8]) {
        let port = *self.opened.last().expect("a media port");
        self.ep.handle_input(self.now, Input::Rtp { port, from: from.parse().unwrap(), bytes });
        self.drain();
    }

    fn command(&mut self, call_id: &str, command: CallCommand) {
        self.ep.handle_input(self.now, Input::Command { call_id, command });
        self.drain();
    }

    /// Drains the outputs, binding RTP ports as the shell does (busy ones fail).
    fn drain(&mut self) {
        while let Some(o) = self.ep.poll_output() {
            match o {
                Output::Sip { bytes, .. } => self.sip.push(String::from_utf8_lossy(&bytes).into_owned()),
                Output::OpenMedia { port } if self.busy.contains(&port) => self.ep.handle_input(self.now, Input::MediaFailed { port }),
                Output::OpenMedia { port } => {
                    self.opened.push(port);
                    self.ep.handle_input(self.now, Input::MediaOpened { port });
                }
                Output::Event { call_id, event } => self.events.push((call_id, event)),
                Output::Rtp { .. } | Output::CloseMedia { .. } => {}
            }
        }
    }

    /// Advances the fake clock in 20 ms ticks.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_millis(20);
            self.ep.handle_input(self.now, Input::Tick);
            self.drain();
        }
    }

    fn codes(&self) -> Vec<u16> {
        self.sip.iter().filter_map(|m| code(m)).collect()
    }

    fn last_final(&self) -> Option<&String> {
        self.sip.iter().rev().find(|m| code(m).is_some_and(|c| c >= 200))
    }

    /// Requests sent with this method, retransmissions (same Via) left out.
    fn requests(&self, method: &str) -> Vec<&String> {
        let mut seen = HashSet::new();
        self.sip.iter().filter(|m| m.starts_with(&format!("{method} ")) && seen.insert(header(m, "Via").unwrap_or_default().to_string())).collect()
    }

    /// Places a call and ACKs its 200; returns our To tag.
    fn answered_call(&mut self, call_id: &str) -> String {
        self.sip_in(&invite(call_id, &format!("z9hG4bK{call_id}"), 1, None, &sdp("8 101"), ""));
        let ok = self.last_final().cloned().expect("a final response");
        assert_eq!(code(&ok), Some(200), "{ok}");
        let tag = tag_of(header(&ok, "To").unwrap_or_default());
        let ack = in_dialog("ACK", call_id, &format!("z9hG4bKack{call_id}"), 1, &tag, "", "");
        self.sip_in(&ack);
        tag
    }

    fn hangups(&self) -> Vec<(HangupBy, String)> {
        self.events.iter().filter_map(|(_, e)| if let CallEvent::Hangup { by, reason } = e { Some((*by, reason.clone())) } else { None }).collect()
    }

    fn transfers(&self) -> Vec<TransferOutcome> {
        self.events.iter().filter_map(|(_, e)| if let CallEvent::Transfer(t) = e { Some(t.clone()) } else { None }).collect()
    }
}

fn rtp(ssrc: u32, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 8];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(seq as u32 * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[test]
fn admission_answers_up_to_max_calls_then_503_with_retry_after() {
    let mut h = Harness::new(config());
    h.answered_call("a");
    h.answered_call("b");
    h.sip_in(&invite("c", "z9hG4bKc", 1, None, &sdp("8"), ""));
    let busy = h.last_final().cloned().unwrap();
    assert_eq!(code(&busy), Some(503), "{busy}");
    assert_eq!(header(&busy, "Retry-After"), Some("30"));
    assert_eq!(h.ep.active_calls(), 2);
    assert_eq!(h.ep.stats.rejected_busy, 1);
    // A call ends: the next one is admitted.
    let tag = tag_of(header(h.sip.iter().find(|m| code(m) == Some(200) && header(m, "Call-ID") == Some("a")).unwrap(), "To").unwrap());
    h.sip_in(&in_dialog("BYE", "a", "z9hG4bKbye", 2, &tag, "", ""));
    h.advance(Duration::from_millis(40));
    h.sip_in(&invite("d", "z9hG4bKd", 1, None, &sdp("8"), ""));
    assert_eq!(code(h.last_final().unwrap()), Some(200));
}

#[test]
fn offers_we_cannot_take_get_488_and_no_call() {
    let mut h = Harness::new(config());
    h.sip_in(&invite("g729", "z9hG4bKg", 1, None, &sdp("18"), ""));
    assert_eq!(code(h.last_final().unwrap()), Some(488));
    h.sip_in(&invite("junk", "z9hG4bKj", 1, None, "this is not SDP", ""));
    assert_eq!(code(h.last_final().unwrap()), Some(488));
    assert_eq!(h.ep.active_calls(), 0);
    assert!(h.opened.is_empty(), "no RTP port taken for a refused call");
    // A re-offer without a common codec inside a call: 488, the call goes on.
    let tag = h.answered_call("ok");
    h.sip_in(&invite("ok", "z9hG4bKre", 2, Some(&tag), &sdp("18"), ""));
    assert_eq!(code(h.last_final().unwrap()), Some(488));
    assert_eq!(h.ep.active_calls(), 1);
}

#[test]
fn a_busy_rtp_port_moves_the_call_to_the_next_one_and_503_only_when_none_is_left() {
    let mut h = Harness::new(config());
    h.busy.insert(20000);
    h.sip_in(&invite("a", "z9hG4bKa", 1, None, &sdp("8"), ""));
    let ok = h.last_final().cloned().unwrap();
    assert_eq!(code(&ok), Some(200), "{ok}");
    assert!(ok.contains("m=audio 20002 "), "the SDP names the port actually bound: {ok}");
    assert_eq!(h.ep.stats.rtp_port_busy, 1);
    // Every other port busy too: 503 for the next call, at once (no call left to time out).
    h.busy.extend([20002, 20004, 20006]);
    let mut cfg = config();
    cfg.max_calls = 4;
    let mut h2 = Harness::new(cfg);
    h2.busy = h.busy.clone();
    h2.sip_in(&invite("b", "z9hG4bKb", 1, None, &sdp("8"), ""));
    let r = h2.last_final().cloned().unwrap();
    assert_eq!(code(&r), Some(503), "{r}");
    assert!(header(&r, "Retry-After").is_some());
    assert_eq!(h2.ep.active_calls(), 0);
    assert_eq!(h2.ep.stats.rtp_port_busy, 4, "each port tried once");
    assert!(h2.codes().iter().all(|c| *c != 200));
    // The ports free up: calls are answered again.
    h2.busy.clear();
    h2.sip_in(&invite("c", "z9hG4bKc", 1, None, &sdp("8"), ""));
    assert_eq!(code(h2.last_final().unwrap()), Some(200));
}

#[test]
fn timer_h_without_ack_ends_the_call_with_a_bye() {
    let mut cfg = config();
    cfg.rtp_timeout = Duration::ZERO;
    let mut h = Harness::new(cfg);
    h.sip_in(&invite("noack", "z9hG4bKn", 1, None, &sdp("8"), ""));
    assert_eq!(h.codes().iter().filter(|c| **c == 200).count(), 1);
    h.advance(Duration::from_secs(10));
    // Retransmitted at T1 = 500 ms, doubling up to T2 = 4 s: 0.5, 1.5, 3.5, 7.5 s.
    assert_eq!(h.codes().iter().filter(|c| **c == 200).count(), 5);
    assert!(h.hangups().is_empty());
    h.advance(Duration::from_secs(23));
    assert_eq!(h.requests("BYE").len(), 1, "BYE after 64*T1 = 32 s");
    assert!(h.events.is_empty(), "a call never established is not told to the application: {:?}", h.events);
    assert_eq!(h.ep.active_calls(), 0);
}

#[test]
fn no_rtp_for_the_timeout_hangs_up_and_forged_rtp_does_not_keep_the_call_alive() {
    let mut h = Harness::new(config());
    h.answered_call("quiet");
    h.rtp_in(PEER_RTP, &rtp(7, 1, &[0xd5; 160]));
    // Only a stranger keeps sending: it does not count as media.
    for i in 0..25u16 {
        h.advance(Duration::from_secs(1));
        h.rtp_in("198.51.100.9:4000", &rtp(7, 2 + i, &[0xd5; 160]));
    }
    assert!(h.hangups().is_empty());
    h.advance(Duration::from_secs(6));
    assert_eq!(h.hangups(), vec![(HangupBy::Timeout, "RTP timeout".to_string())]);
    assert_eq!(h.requests("BYE").len(), 1);
    assert_eq!(h.ep.stats.rtp_foreign_source, 25);
}

#[test]
fn a_reinvite_while_one_is_pending_gets_491() {
    let mut h = Harness::new(config());
    let tag = h.answered_call("glare");
    h.sip_in(&invite("glare", "z9hG4bKre1", 2, Some(&tag), &sdp("8"), ""));
    assert_eq!(code(h.last_final().unwrap()), Some(200));
    // Another re-INVITE before the first one's ACK.
    h.sip_in(&invite("glare", "z9hG4bKre2", 3, Some(&tag), &sdp("8"), ""));
    assert_eq!(code(h.last_final().unwrap()), Some(491));
    // Once ACKed, a new re-INVITE is taken.
    h.sip_in(&in_dialog("ACK", "glare", "z9hG4bKack2", 2, &tag, "", ""));
    h.sip_in(&invite("glare", "z9hG4bKre3", 4, Some(&tag), &sdp("8"), ""));
    assert_eq!(code(h.last_final().unwrap()), Some(200));
    assert_eq!(h.ep.active_calls(), 1);
}

#[test]
fn session_timer_we_refresh_at_half_the_interval_and_hang_up_when_the_caller_does_not() {
    let mut cfg = config();
    cfg.rtp_timeout = Duration::ZERO;
    let mut h = Harness::new(cfg.clone());
    // We refresh (refresher=uas): an UPDATE at half the interval.
    h.sip_in(&invite("st1", "z9hG4bKs1", 1, None, &sdp("8"), "Session-Expires: 120;refresher=uas\r\nSupported: timer\r\n"));
    let ok = h.last_final().cloned().unwrap();
    assert_eq!(header(&ok, "Session-Expires"), Some("120;refresher=uas"));
    assert_eq!(header(&ok, "Require"), Some("timer"));
    h.sip_in(&in_dialog("ACK", "st1", "z9hG4bKa1", 1, &tag_of(header(&ok, "To").unwrap()), "", ""));
    h.rtp_in(PEER_RTP, &rtp(1, 1, &[0xd5; 160]));
    h.advance(Duration::from_secs(59));
    assert!(h.requests("UPDATE").is_empty());
    h.advance(Duration::from_secs(2));
    assert_eq!(h.requests("UPDATE").len(), 1);
    // The caller refreshes (refresher=uac) and stops doing so: BYE before expiry
    // (RFC 4028 §10: at expiry minus min(32 s, interval/3)).
    let mut h = Harness::new(cfg);
    h.sip_in(&invite("st2", "z9hG4bKs2", 1, None, &sdp("8"), "Session-Expires: 120;refresher=uac\r\nSupported: timer\r\n"));
    let ok = h.last_final().cloned().unwrap();
    let tag = tag_of(header(&ok, "To").unwrap());
    h.sip_in(&in_dialog("ACK", "st2", "z9hG4bKa2", 1, &tag, "", ""));
    // One refresh (re-INVITE) at 60 s re-arms the timer...
    h.advance(Duration::from_secs(60));
    h.sip_in(&invite("st2", "z9hG4bKr2", 2, Some(&tag), &sdp("8"), "Session-Expires: 120;refresher=uac\r\n"));
    h.sip_in(&in_dialog("ACK", "st2", "z9hG4bKa3", 2, &tag, "", ""));
    h.advance(Duration::from_secs(87));
    assert!(h.hangups().is_empty(), "{:?}", h.hangups());
    // ...then none comes: BYE at 60 + 88 s.
    h.advance(Duration::from_secs(2));
    assert_eq!(h.hangups(), vec![(HangupBy::Timeout, "session expired".to_string())]);
}

#[test]
fn a_session_interval_below_min_se_gets_422() {
    let mut h = Harness::new(config());
    h.sip_in(&invite("short", "z9hG4bKsh", 1, None, &sdp("8"), "Session-Expires: 30\r\nSupported: timer\r\n"));
    let r = h.last_final().cloned().unwrap();
    assert_eq!(code(&r), Some(422));
    assert_eq!(header(&r, "Min-SE"), Some("90"));
}

fn transfer(h: &mut Harness, call_id: &str) -> String {
    h.command(call_id, CallCommand::Transfer { target_uri: "sip:agents@192.0.2.50".into(), headers: vec![] });
    h.requests("REFER").last().map(|r| r.to_string()).expect("a REFER")
}

#[test]
fn a_202_without_notify_is_a_failed_transfer_after_the_configured_time() {
    let mut h = Harness::new(config());
    h.answered_call("x");
    h.rtp_in(PEER_RTP, &rtp(1, 1, &[0xd5; 160]));
    let refer = transfer(&mut h, "x");
    h.sip_in(&response_to(&refer, 202));
    h.advance(Duration::from_millis(9_900));
    assert!(h.transfers().is_empty());
    h.advance(Duration::from_millis(200));
    assert_eq!(h.transfers(), vec![TransferOutcome::Failed(408)]);
    assert_eq!(h.ep.active_calls(), 1, "the bot goes on with the caller");
    // A NOTIFY that comes too late changes nothing (the outcome was told once).
    let tag = tag_of(header(&refer, "From").unwrap());
    h.sip_in(&in_dialog("NOTIFY", "x", "z9hG4bKlate", 2, &tag, "Event: refer\r\nContent-Type: message/sipfrag\r\n", "SIP/2.0 200 OK\r\n"));
    assert_eq!(code(h.sip.last().unwrap()), Some(200));
    assert_eq!(h.transfers(), vec![TransferOutcome::Failed(408)]);
}

#[test]
fn notifies_after_202_give_the_outcome_and_a_provisional_one_rearms_the_wait() {
    let mut h = Harness::new(config());
    h.answered_call("y");
    h.rtp_in(PEER_RTP, &rtp(1, 1, &[0xd5; 160]));
    let refer = transfer(&mut h, "y");
    let tag = tag_of(header(&refer, "From").unwrap());
    h.sip_in(&response_to(&refer, 202));
    h.advance(Duration::from_secs(8));
    h.sip_in(&in_dialog("NOTIFY", "y", "z9hG4bKn1", 2, &tag, "Event: refer\r\nContent-Type: message/sipfrag\r\n", "SIP/2.0 180 Ringing\r\n"));
    h.advance(Duration::from_secs(8));
    assert!(h.transfers().is_empty(), "the 180 re-armed the wait");
    h.sip_in(&in_dialog("NOTIFY", "y", "z9hG4bKn2", 3, &tag, "Event: refer\r\nContent-Type: message/sipfrag\r\n", "SIP/2.0 200 OK\r\n"));
    assert_eq!(h.transfers(), vec![TransferOutcome::Completed]);
    h.advance(Duration::from_secs(20));
    assert_eq!(h.transfers(), vec![TransferOutcome::Completed]);
    // A refused REFER is told as such.
    let mut h = Harness::new(config());
    h.answered_call("z");
    let refer = transfer(&mut h, "z");
    h.sip_in(&response_to(&refer, 603));
    assert_eq!(h.transfers(), vec![TransferOutcome::Refused(603)]);
}

#[test]
fn randomness_comes_from_the_injected_source() {
    let run = || {
        let mut h = Harness::new(config());
        h.answered_call("same");
        let refer = transfer(&mut h, "same");
        (h.sip.clone(), refer)
    };
    let (a, refer_a) = run();
    let (b, refer_b) = run();
    assert_eq!(a, b, "same entropy, same bytes (tags, SSRC-bearing SDP, branches)");
    assert_eq!(refer_a, refer_b);
    let tags: HashSet<String> = a.iter().filter_map(|m| header(m, "To")).map(tag_of).filter(|t| !t.is_empty()).collect();
    assert!(!tags.is_empty());
}

#[test]
fn a_new_invite_reusing_a_call_id_in_progress_gets_482_and_is_counted() {
    let mut h = Harness::new(config());
    h.answered_call("dup");
    // The same INVITE retransmitted: absorbed, not a new call.
    h.sip_in(&invite("dup", "z9hG4bKdup", 1, None, &sdp("8 101"), ""));
    assert_eq!(h.ep.stats.call_id_reused, 0);
    // Another INVITE (new branch) with that Call-ID.
    h.sip_in(&invite("dup", "z9hG4bKother", 1, None, &sdp("8"), ""));
    assert_eq!(code(h.last_final().unwrap()), Some(482));
    assert_eq!(h.ep.stats.call_id_reused, 1);
    assert_eq!(h.ep.active_calls(), 1);
}

#[test]
fn the_application_hears_of_a_call_when_its_ack_arrives() {
    let mut h = Harness::new(config());
    h.sip_in(&invite("s", "z9hG4bKs", 1, None, &sdp("8"), ""));
    let ok = h.last_final().cloned().unwrap();
    assert_eq!(code(&ok), Some(200));
    h.advance(Duration::from_millis(300));
    assert!(h.events.is_empty(), "told before the ACK: {:?}", h.events);
    h.sip_in(&in_dialog("ACK", "s", "z9hG4bKas", 1, &tag_of(header(&ok, "To").unwrap()), "", ""));
    assert!(matches!(h.events.as_slice(), [(_, CallEvent::Started(_))]), "{:?}", h.events);
    // An offer-less INVITE: the codec is the one of the answer in the ACK.
    let mut h = Harness::new(config());
    h.sip_in(&invite("ol", "z9hG4bKol", 1, None, "", ""));
    let ok = h.last_final().cloned().unwrap();
    assert!(ok.contains("m=audio"), "our offer in the 200: {ok}");
    let answer = sdp("0 101");
    h.sip_in(&in_dialog("ACK", "ol", "z9hG4bKaol", 1, &tag_of(header(&ok, "To").unwrap()), "Content-Type: application/sdp\r\n", &answer));
    match h.events.as_slice() {
        [(_, CallEvent::Started(info))] => assert_eq!(info.codec, Some(Codec::Pcmu)),
        other => panic!("{other:?}"),
    }
}

// Regressions found with the RFC 4475 torture messages (tests/torture.rs).

#[test]
fn a_request_without_an_rfc3261_branch_is_matched_by_the_rfc2543_rules() {
    // RFC 4475 longreq: the top Via has no branch; the call must still be answered,
    // and a retransmission must repeat the answer rather than start a second call.
    let mut h = Harness::new(config());
    let inv = invite("c2543", "x", 1, None, &sdp("8"), "").replace(";branch=x", "");
    h.sip_in(&inv);
    assert_eq!(h.codes(), vec![100, 200], "{:?}", h.sip);
    h.sip_in(&inv);
    assert_eq!(h.ep.active_calls(), 1);
    assert!(h.codes().iter().skip(2).all(|c| *c == 100 || *c == 200), "{:?}", h.codes());
    assert!(!h.codes().contains(&482));
}

#[test]
fn request_uri_schemes_other_than_sip_sips_tel_get_416() {
    let mut h = Harness::new(config());
    let opt = "OPTIONS nobodyknowsthisscheme:totallyopaquecontent SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKu\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: u\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    h.sip_in(opt);
    assert_eq!(h.codes(), vec![416]);
}

#[test]
fn an_invite_whose_body_is_not_sdp_gets_415_and_one_that_accepts_no_sdp_gets_406() {
    let mut h = Harness::new(config());
    let inv = invite("ct", "z9hG4bKct", 1, None, "hello", "").replace("Content-Type: application/sdp", "Content-Type: application/unknownformat");
    h.sip_in(&inv);
    assert_eq!(h.codes(), vec![415]);
    assert_eq!(header(h.last_final().unwrap(), "Accept"), Some("application/sdp"));
    let inv = invite("ac", "z9hG4bKac", 1, None, &sdp("8"), "Accept: text/nobodyknowsthis\r\n");
    h.sip_in(&inv);
    assert_eq!(h.codes(), vec![415, 406]);
    let inv = invite("ok", "z9hG4bKok", 1, None, &sdp("8"), "Accept: application/sdp, application/dtmf-relay\r\n");
    h.sip_in(&inv);
    assert_eq!(h.codes().last(), Some(&200));
    assert_eq!(h.ep.active_calls(), 1);
}

#[test]
fn another_sip_version_gets_505() {
    let mut h = Harness::new(config());
    h.sip_in("OPTIONS sip:t@example.com SIP/7.0\r\nVia: SIP/7.0/UDP 192.0.2.1;branch=z9hG4bKv\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:t@example.com>\r\nCall-ID: v\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.codes(), vec![505]);
}
