//! The UAS endpoint: demultiplexes SIP datagrams to transactions and calls,
//! answers what needs no call (OPTIONS, 405, 400, 481, 503), allocates RTP ports
//! and drives every call's timers and media from one tick.
//!
//! Sans-IO: `handle_input(now, input)` feeds it, `poll_output()` drains what to
//! send and tell, `poll_timeout()` says when it next needs `Input::Tick`.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::{CallCommand, CallEvent, CallInfo, DtmfSource, HangupBy};
use crate::call::{Call, CallState, Outbox, ReInvite, ReferState, SessionTimer};
use crate::config::{Config, OverloadMode};
use crate::media::playback::Playback;
use crate::media::prompt::Prompt;
use crate::rtp::stream::{Received, RtpStream};
use crate::sdp::{self, Codec, Direction, SdpError};
use crate::sip::dialog::Dialog;
use crate::sip::message::{self, Headers, Message, Request, Response, ACCEPT, ALLOW, SUPPORTED};
use crate::sip::transaction::{AnswerRetransmitter, InviteServerTxn, NonInviteServerTxn};

#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub public_ip: IpAddr,
    pub sip_port: u16,
    pub codecs: Vec<Codec>,
    pub max_calls: usize,
    pub overload: OverloadMode,
    pub retry_after_s: u32,
    pub rtp_timeout: Duration,
    /// A 202 to REFER followed by no NOTIFY for this long: the transfer failed.
    pub transfer_notify_timeout: Duration,
    pub ring: Duration,
    pub min_session_expires_s: u32,
    pub deliver_audio: bool,
    pub rtp_ports: (u16, u16),
    /// Symmetric RTP behind NAT: take media from a source other than the SDP address
    /// (the first one, then locked to it and its SSRC). See [`crate::rtp::stream`].
    pub rtp_latching: bool,
    pub saturation_prompt: Option<Arc<Prompt>>,
}

impl EndpointConfig {
    pub fn from_config(cfg: &Config, sip_port: u16, saturation_prompt: Option<Arc<Prompt>>) -> Self {
        Self {
            public_ip: cfg.public_ip(),
            sip_port,
            codecs: cfg.codecs.clone(),
            max_calls: cfg.max_calls,
            overload: cfg.overload,
            retry_after_s: cfg.retry_after_s,
            rtp_timeout: Duration::from_secs(cfg.rtp_timeout_s),
            transfer_notify_timeout: Duration::from_secs(cfg.transfer_notify_timeout_s),
            ring: Duration::from_millis(cfg.ring_ms),
            min_session_expires_s: cfg.min_session_expires_s,
            deliver_audio: cfg.deliver_audio,
            rtp_ports: (cfg.rtp_ports.min, cfg.rtp_ports.max),
            rtp_latching: cfg.rtp_latching,
            saturation_prompt,
        }
    }
}

pub enum Input<'a> {
    Sip {
        from: SocketAddr,
        bytes: &'a [u8],
    },
    Rtp {
        port: u16,
        from: SocketAddr,
        bytes: &'a [u8],
    },
    Command {
        call_id: &'a str,
        command: CallCommand,
    },
    /// The shell bound the RTP socket asked for by [`Output::OpenMedia`]: the call
    /// may be answered (its SDP names that port).
    MediaOpened {
        port: u16,
    },
    /// The shell could not bind that port (another process holds it): the call
    /// moves to another port of the range, or gets 503 when none is left.
    MediaFailed {
        port: u16,
    },
    /// Timers and the 20 ms media clock.
    Tick,
}

#[derive(Debug)]
pub enum Output {
    Sip {
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    Rtp {
        port: u16,
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    /// Bind an RTP socket on this local port for a new call, then answer with
    /// [`Input::MediaOpened`] or [`Input::MediaFailed`].
    OpenMedia {
        port: u16,
    },
    CloseMedia {
        port: u16,
    },
    Event {
        call_id: String,
        event: CallEvent,
    },
}

/// Counters, logged by the shell.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub calls: u64,
    pub active: u64,
    pub rejected_busy: u64,
    pub responses: std::collections::BTreeMap<u16, u64>,
    pub malformed: u64,
    pub rtp_late: u64,
    pub rtp_lost: u64,
    /// RTP/RTCP datagrams dropped because they came from another source than the call's.
    pub rtp_foreign_source: u64,
    /// RTP packets dropped because the call's jitter buffer was full.
    pub rtp_overflow: u64,
    /// RTP ports of the range found busy (bound by another process) and skipped.
    pub rtp_port_busy: u64,
    /// New INVITEs that reused the Call-ID of a call in progress (answered 482).
    pub call_id_reused: u64,
}

/// Where the endpoint's random values come from (tags, branches, SSRC, RTP
/// timestamps, initial CSeq): the OS generator in service, a fixed sequence in tests.
pub trait Entropy: Send {
    fn next_u64(&mut self) -> u64;
}

/// The thread-local CSPRNG of `rand`.
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn next_u64(&mut self) -> u64 {
        rand::random()
    }
}

pub struct Endpoint {
    cfg: EndpointConfig,
    calls: HashMap<String, Call>,
    by_port: HashMap<u16, String>,
    /// Non-INVITE server transactions, keyed by (branch, method).
    server_txns: HashMap<(String, String), (NonInviteServerTxn, SocketAddr)>,
    /// INVITE transactions that ended with a non-2xx (503, 488, 487...): they still
    /// retransmit the final response until ACK (timer G/H).
    rejected: HashMap<String, (InviteServerTxn, SocketAddr)>,
    free_ports: VecDeque<u16>,
    /// Even ports in the range: a call tries at most this many before 503.
    port_count: usize,
    out: Outbox,
    entropy: Box<dyn Entropy>,
    pub stats: Stats,
}

impl Endpoint {
    pub fn new(cfg: EndpointConfig) -> Self {
        Self::with_entropy(cfg, Box::new(OsEntropy))
    }

    pub fn with_entropy(cfg: EndpointConfig, entropy: Box<dyn Entropy>) -> Self {
        let (lo, hi) = cfg.rtp_ports;
        // Even ports only: the odd one above is RTCP's by convention.
        let free_ports: VecDeque<u16> = (lo..=hi).filter(|p| p % 2 == 0).collect();
        Self {
            port_count: free_ports.len(),
            entropy,
            cfg,
            calls: HashMap::new(),
            by_port: HashMap::new(),
            server_txns: HashMap::new(),
            rejected: HashMap::new(),
            free_ports,
            out: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }

    pub fn active_calls(&self) -> usize {
        self.calls.values().filter(|c| !matches!(c.state, CallState::Ended | CallState::Ending)).count()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.values().filter_map(Call::poll_timeout);
        let txns = self.server_txns.values().filter_map(|(t, _)| t.poll_timeout());
        let rej = self.rejected.values().filter_map(|(t, _)| t.poll_timeout());
        calls.chain(txns).chain(rej).min()
    }

    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Sip { from, bytes } => self.on_sip(now, from, bytes),
            Input::Rtp { port, from, bytes } => self.on_rtp(now, port, from, bytes),
            Input::Command { call_id, command } => {
                if let Some(call) = self.calls.get_mut(call_id) {
                    call.command(now, &self.cfg, &mut self.out, &mut self.stats, command);
                }
            }
            Input::MediaOpened { port } => self.on_media_opened(now, port),
            Input::MediaFailed { port } => self.on_media_failed(now, port),
            Input::Tick => self.on_tick(now),
        }
    }

    fn on_media_opened(&mut self, now: Instant, port: u16) {
        let Some(id) = self.by_port.get(&port).cloned() else { return };
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.media_ready = true;
        if matches!(call.state, CallState::Ringing { answer_at } if now >= answer_at) {
            self.answer(now, &id);
        }
    }

    /// The port is busy: the next free one is tried (the busy one goes to the back
    /// of the queue, it may be free again later); 503 once every port was tried.
    fn on_media_failed(&mut self, now: Instant, port: u16) {
        let Some(id) = self.by_port.remove(&port) else { return };
        self.free_ports.push_back(port);
        self.stats.rtp_port_busy += 1;
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.port_tries += 1;
        let next = if call.port_tries < self.port_count { self.free_ports.pop_front() } else { None };
        match next {
            Some(next) => {
                tracing::warn!(parent: &call.span, port, next, "RTP port busy (bound by another process): trying another");
                call.stream.local_port = next;
                self.by_port.insert(next, id);
                self.out.push_back(Output::OpenMedia { port: next });
            }
            None => {
                tracing::warn!(parent: &call.span, tries = call.port_tries, "no RTP port of the range could be bound: 503");
                let Some(mut call) = self.calls.remove(&id) else { return };
                let ra = self.cfg.retry_after_s.to_string();
                let bytes = message::response(&call.invite, 503, "Service Unavailable", Some(&call.dialog.local_tag), &[("Retry-After", ra)], None);
                call.invite_txn.respond(now, 503, &bytes);
                self.send(call.peer, bytes, 503);
                self.rejected.insert(call.invite_branch.clone(), (call.invite_txn, call.peer));
            }
        }
    }

    fn on_rtp(&mut self, now: Instant, port: u16, from: SocketAddr, bytes: &[u8]) {
        let Some(call) = self.by_port.get(&port).and_then(|id| self.calls.get_mut(id)) else { return };
        if let Received::Dtmf(digit) = call.stream.on_datagram(now, from, bytes) {
            // The digit itself is personal data (a keyed number, a date of birth): never logged.
            tracing::debug!(parent: &call.span, "DTMF (RFC 4733)");
            call.event(&mut self.out, CallEvent::Dtmf { digit, source: DtmfSource::Rfc4733 });
        }
    }

    fn on_tick(&mut self, now: Instant) {
        let ids: Vec<String> = self.calls.keys().cloned().collect();
        for id in ids {
            let Some(call) = self.calls.get_mut(&id) else { continue };
            if let CallState::Ringing { answer_at } = call.state {
                if now >= answer_at && call.media_ready {
                    self.answer(now, &id);
                    continue;
                }
            }
            let Some(call) = self.calls.get_mut(&id) else { continue };
            call.sip_timers(now, &self.cfg, &mut self.out, &mut self.stats);
            call.media_tick(now, &self.cfg, &mut self.out, &mut self.stats);
            if call.is_disposable() && call.invite_txn.is_terminated() || call.state == CallState::Ended && call.client.is_empty() {
                self.remove_call(&id);
            }
        }
        self.server_txns.retain(|_, (t, _)| {
            t.handle_timeout(now);
            !t.is_terminated()
        });
        let out = &mut self.out;
        self.rejected.retain(|_, (t, peer)| {
            for ev in t.handle_timeout(now) {
                if let crate::sip::transaction::TxnEvent::Retransmit(b) = ev {
                    out.push_back(Output::Sip { to: *peer, bytes: b });
                }
            }
            !t.is_terminated()
        });
    }

    fn remove_call(&mut self, id: &str) {
        if let Some(call) = self.calls.remove(id) {
            if self.by_port.remove(&call.stream.local_port).is_some() {
                self.free_ports.push_back(call.stream.local_port);
            }
        }
    }

    fn send(&mut self, to: SocketAddr, bytes: Vec<u8>, code: u16) {
        *self.stats.responses.entry(code).or_default() += 1;
        self.out.push_back(Output::Sip { to, bytes });
    }

    /// Answers an out-of-dialog or in-dialog non-INVITE request through a server
    /// transaction (so retransmissions get the same answer).
    #[allow(clippy::too_many_arguments)] // a SIP response is that many things
    fn reply(&mut self, now: Instant, req: &Request, from: SocketAddr, code: u16, reason: &str, extra: &[(&str, String)], body: Option<(&str, &[u8])>) {
        let to_tag = format!("{:08x}", self.entropy.next_u64() as u32);
        let bytes = message::response(req, code, reason, Some(&to_tag), extra, body);
        if let Some(branch) = req.transaction_key() {
            if req.method != "ACK" {
                let mut txn = NonInviteServerTxn::new();
                txn.respond(now, code, &bytes);
                self.server_txns.insert((branch, req.method.clone()), (txn, from));
            }
        }
        self.send(from, bytes, code);
    }

    /// A final non-2xx to an INVITE, kept in a transaction until ACK (G/H/I).
    fn reject_invite(&mut self, now: Instant, req: &Request, from: SocketAddr, code: u16, reason: &str, extra: &[(&str, String)]) {
        let to_tag = format!("{:08x}", self.entropy.next_u64() as u32);
        let bytes = message::response(req, code, reason, Some(&to_tag), extra, None);
        let mut txn = InviteServerTxn::new();
        txn.respond(now, code, &bytes);
        if let Some(b) = req.transaction_key() {
            self.rejected.insert(b, (txn, from));
        }
        self.send(from, bytes, code);
    }

    fn on_sip(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        match message::parse(bytes) {
            Ok(Message::Request(mut req)) => {
                if let Some(pos) = req.headers.iter().position(|(n, _)| n == "Via") {
                    let v = req.headers[pos].1.clone();
                    let parts = message::split_list(&v);
                    if let Some(first) = parts.first() {
                        let mut stamped = vec![message::stamp_via(first, from)];
                        stamped.extend(parts[1..].iter().map(|s| s.to_string()));
                        req.headers[pos].1 = stamped.join(", ");
                    }
                }
                self.on_request(now, from, req)
            }
            Ok(Message::Response(resp)) => self.on_response(now, resp),
            Err(e) => {
                self.stats.malformed += 1;
                tracing::warn!(%from, reason = %e.reason, "malformed SIP message");
                // Answer only requests we can address a response to; never answer ACK.
                if let Some(req) = e.partial {
                    if req.method != "ACK" && req.top_via().is_some() && req.header("From").is_some() {
                        let reason = match e.status {
                            505 => format!("Version Not Supported ({})", e.reason),
                            _ => format!("Bad Request ({})", e.reason),
                        };
                        let bytes = message::response(&req, e.status, &reason, Some("bad"), &[], None);
                        self.send(from, bytes, e.status);
                    }
                }
            }
        }
    }

    fn on_request(&mut self, now: Instant, from: SocketAddr, req: Request) {
        let Some(branch) = req.transaction_key() else {
            return self.reply(now, &req, from, 400, "Bad Request (no transaction identifier)", &[], None);
        };
        // Retransmission of a non-INVITE request: absorbed.
        if let Some((txn, _)) = self.server_txns.get(&(branch.clone(), req.method.clone())) {
            if let Some(b) = txn.on_request_retransmission() {
                self.out.push_back(Output::Sip { to: from, bytes: b });
            }
            return;
        }
        if req.method == "ACK" {
            if let Some((txn, _)) = self.rejected.get_mut(&branch) {
                txn.on_ack(now);
                return;
            }
        }
        if req.method == "INVITE" {
            if let Some((txn, _)) = self.rejected.get(&branch) {
                if let Some(b) = txn.on_request_retransmission() {
                    self.out.push_back(Output::Sip { to: from, bytes: b });
                }
                return;
            }
        }
        // A UAS reached through SIP: another Request-URI scheme names nothing here
        // (RFC 3261 §8.2.2.1; RFC 4475 unkscm, novelsc).
        let scheme = req.uri.split(':').next().unwrap_or_default().to_ascii_lowercase();
        if !["sip", "sips", "tel"].contains(&scheme.as_str()) && req.method != "ACK" {
            return if req.method == "INVITE" {
                self.reject_invite(now, &req, from, 416, "Unsupported URI Scheme", &[])
            } else {
                self.reply(now, &req, from, 416, "Unsupported URI Scheme", &[], None)
            };
        }
        if let Some(req_ext) = req.header("Require") {
            let unsupported: Vec<&str> = req_ext.split(',').map(str::trim).filter(|t| !t.is_empty() && *t != "timer").collect();
            if !unsupported.is_empty() && req.method != "ACK" && req.method != "CANCEL" {
                let u = unsupported.join(", ");
                return if req.method == "INVITE" {
                    self.reject_invite(now, &req, from, 420, "Bad Extension", &[("Unsupported", u)])
                } else {
                    self.reply(now, &req, from, 420, "Bad Extension", &[("Unsupported", u)], None)
                };
            }
        }
        let call_id = req.call_id().unwrap_or_default().to_string();
        match req.method.as_str() {
            "INVITE" if req.to_tag().is_none() => self.on_new_invite(now, from, req, branch, call_id),
            "OPTIONS" => {
                let extra = [("Allow", ALLOW.to_string()), ("Accept", ACCEPT.to_string()), ("Supported", SUPPORTED.to_string())];
                self.reply(now, &req, from, 200, "OK", &extra, None)
            }
            "CANCEL" => self.on_cancel(now, from, req, &branch, &call_id),
            "ACK" => self.on_ack(now, req, &call_id),
            "INVITE" | "BYE" | "INFO" | "UPDATE" | "NOTIFY" | "PRACK" => self.on_in_dialog(now, from, req, branch, &call_id),
            _ => self.reply(now, &req, from, 405, "Method Not Allowed", &[("Allow", ALLOW.to_string())], None),
        }
    }

    fn on_new_invite(&mut self, now: Instant, from: SocketAddr, req: Request, branch: String, call_id: String) {
        if let Some(call) = self.calls.get(&call_id) {
            if call.invite_branch == branch {
                // Retransmitted INVITE: repeat the provisional or the 2xx.
                let again =
                    call.invite_txn.on_request_retransmission().or_else(|| call.answer.as_ref().filter(|a| !a.is_acked()).map(|a| a.response().to_vec()));
                if let Some(b) = again {
                    self.out.push_back(Output::Sip { to: from, bytes: b });
                }
            } else {
                // A second INVITE with this Call-ID (a forked or looped request, or a peer
                // reusing IDs): it cannot be a call of its own here. Told, logged, counted.
                self.stats.call_id_reused += 1;
                tracing::warn!(parent: &call.span, %from, "new INVITE reusing the Call-ID of a call in progress: 482");
                self.reject_invite(now, &req, from, 482, "Loop Detected", &[]);
            }
            return;
        }
        let span = tracing::info_span!("call", call_id = %call_id);
        let _g = span.enter();
        self.stats.calls += 1;
        let over = self.active_calls() >= self.cfg.max_calls;
        // Announce mode still has a hard ceiling (2x) so memory stays bounded.
        let announce =
            over && self.cfg.overload == OverloadMode::Announce && self.cfg.saturation_prompt.is_some() && self.active_calls() < 2 * self.cfg.max_calls;
        if over && !announce {
            self.stats.rejected_busy += 1;
            tracing::warn!("at capacity ({} calls): 503", self.cfg.max_calls);
            let ra = self.cfg.retry_after_s.to_string();
            return self.reject_invite(now, &req, from, 503, "Service Unavailable", &[("Retry-After", ra)]);
        }
        // The body must be SDP and the answer must be SDP (RFC 3261 §8.2.3, §21.4.7;
        // RFC 4475 invut and sdp01).
        let ct = req.header("Content-Type").map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
        if !req.body.is_empty() && ct.as_deref() != Some("application/sdp") {
            return self.reject_invite(now, &req, from, 415, "Unsupported Media Type", &[("Accept", "application/sdp".into())]);
        }
        if let Some(accept) = req.header("Accept") {
            let takes_sdp = accept
                .split(',')
                .map(|t| t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
                .any(|t| t == "application/sdp" || t == "application/*" || t == "*/*");
            if !accept.trim().is_empty() && !takes_sdp {
                return self.reject_invite(now, &req, from, 406, "Not Acceptable", &[("Accept", "application/sdp".into())]);
            }
        }
        let offer = if req.body.is_empty() {
            None
        } else {
            match sdp::parse_remote(&req.body) {
                Ok(o) => Some(o),
                Err(e) => {
                    tracing::warn!(error = %e, "unusable SDP offer");
                    return self.reject_invite(now, &req, from, 488, "Not Acceptable Here", &[("Warning", "399 ivr \"unparsable SDP\"".into())]);
                }
            }
        };
        let negotiated = match offer.as_ref().map(|o| sdp::negotiate(o, &self.cfg.codecs)) {
            Some(Err(SdpError::NoCommonCodec)) | Some(Err(_)) => {
                tracing::info!("no common codec: 488");
                return self.reject_invite(now, &req, from, 488, "Not Acceptable Here", &[("Warning", "305 ivr \"Incompatible media format\"".into())]);
            }
            Some(Ok(n)) => Some(n),
            None => None,
        };
        let session = match req.header("Session-Expires") {
            Some(se) => {
                let secs: u32 = se.split(';').next().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
                if secs < self.cfg.min_session_expires_s {
                    let min = self.cfg.min_session_expires_s.to_string();
                    return self.reject_invite(now, &req, from, 422, "Session Interval Too Small", &[("Min-SE", min)]);
                }
                let uac_supports = req.header("Supported").is_some_and(|s| s.split(',').any(|t| t.trim() == "timer"));
                let we_refresh = match message::param(se, "refresher") {
                    Some(r) => r.eq_ignore_ascii_case("uas"),
                    None => !uac_supports,
                };
                let mut t = SessionTimer { interval: Duration::from_secs(secs as u64), we_refresh, next: now };
                t.rearm(now);
                Some(t)
            }
            None => None,
        };
        let Some(port) = self.free_ports.pop_front() else {
            tracing::warn!("RTP port range exhausted: 503");
            let ra = self.cfg.retry_after_s.to_string();
            return self.reject_invite(now, &req, from, 503, "Service Unavailable", &[("Retry-After", ra)]);
        };
        let local_tag = format!("{:016x}", self.entropy.next_u64());
        let contact = format!("sip:ivr@{}:{}", self.cfg.public_ip, self.cfg.sip_port);
        let dialog = match Dialog::from_invite(&req, &local_tag, &contact, self.entropy.next_u64() as u16 as u32) {
            Ok(d) => d,
            Err(e) => {
                self.free_ports.push_front(port);
                return self.reject_invite(now, &req, from, 400, &format!("Bad Request ({e})"), &[]);
            }
        };
        let (ssrc, ts_base) = (self.entropy.next_u64() as u32, self.entropy.next_u64() as u32);
        let mut stream = RtpStream::new(port, now, ssrc, ts_base);
        stream.negotiated = negotiated;
        stream.latching = self.cfg.rtp_latching;
        stream.signalling_ip = Some(from.ip());
        let branch_seed = self.entropy.next_u64();
        let mut invite_txn = InviteServerTxn::new();
        let trying = message::response(&req, 100, "Trying", None, &[], None);
        invite_txn.respond(now, 100, &trying);
        self.send(from, trying, 100);
        let ringing = !self.cfg.ring.is_zero();
        if ringing {
            let r = message::response(&req, 180, "Ringing", Some(&local_tag), &[("Contact", format!("<{contact}>"))], None);
            invite_txn.respond(now, 180, &r);
            self.send(from, r, 180);
        }
        // Neither From nor P-Asserted-Identity is logged: they carry the caller's number.
        tracing::info!(%from, "INVITE");
        self.out.push_back(Output::OpenMedia { port });
        self.by_port.insert(port, call_id.clone());
        drop(_g);
        let call = Call {
            id: call_id.clone(),
            span,
            state: CallState::Ringing { answer_at: now + self.cfg.ring },
            peer: from,
            invite: req,
            invite_branch: branch,
            invite_txn,
            dialog,
            answer: None,
            reinvite: None,
            client: Vec::new(),
            stream,
            playback: None,
            offerless: offer.is_none(),
            sdp_version: 1,
            started: false,
            announce_only: announce,
            session,
            on_hold: false,
            answered_at: None,
            media_ready: false,
            port_tries: 0,
            branch_seed,
            branches: 0,
            refer: ReferState::Idle,
        };
        // Answered once the shell has bound the RTP port (MediaOpened) and the ring is over.
        self.calls.insert(call_id.clone(), call);
    }

    fn local_sdp(&self, call: &Call, offer_all: bool) -> Vec<u8> {
        let (codecs, te, dir) = match (call.stream.negotiated, offer_all) {
            (Some(n), false) => (vec![(n.pt, n.codec)], n.telephone_event, n.direction),
            _ => (self.cfg.codecs.iter().map(|c| (c.static_pt(), *c)).collect(), Some(101), Direction::SendRecv),
        };
        sdp::write(self.cfg.public_ip, call.stream.local_port, call.sdp_version, &codecs, te, dir).into_bytes()
    }

    fn answer(&mut self, now: Instant, id: &str) {
        let Some(call) = self.calls.get(id) else { return };
        let body = self.local_sdp(call, call.offerless);
        let mut extra = vec![("Contact", format!("<{}>", call.dialog.local_contact)), ("Allow", ALLOW.to_string()), ("Supported", SUPPORTED.to_string())];
        if let Some(s) = call.session {
            let who = if s.we_refresh { "uas" } else { "uac" };
            extra.push(("Session-Expires", format!("{};refresher={who}", s.interval.as_secs())));
            if call.invite.header("Supported").is_some_and(|v| v.contains("timer")) {
                extra.push(("Require", "timer".into()));
            }
        }
        let bytes = message::response(&call.invite, 200, "OK", Some(&call.dialog.local_tag), &extra, Some(("application/sdp", &body)));
        let Some(call) = self.calls.get_mut(id) else { return };
        call.invite_txn.respond(now, 200, &bytes);
        call.answer = Some(AnswerRetransmitter::new(now, bytes.clone()));
        call.state = CallState::Answered;
        call.answered_at = Some(now);
        call.stream.last_rx = now;
        let peer = call.peer;
        if call.announce_only {
            if let Some(p) = self.cfg.saturation_prompt.clone() {
                call.playback = Some(Playback::new(p, false, now));
            }
        }
        self.stats.active += 1;
        self.send(peer, bytes, 200);
    }

    fn on_cancel(&mut self, now: Instant, from: SocketAddr, req: Request, branch: &str, call_id: &str) {
        let ringing = self.calls.get(call_id).filter(|c| c.invite_branch == branch).map(|c| matches!(c.state, CallState::Ringing { .. }));
        match ringing {
            None => self.reply(now, &req, from, 481, "Call/Transaction Does Not Exist", &[], None),
            Some(false) => self.reply(now, &req, from, 200, "OK", &[], None),
            Some(true) => {
                self.reply(now, &req, from, 200, "OK", &[], None);
                if let Some(mut call) = self.calls.remove(call_id) {
                    tracing::info!(parent: &call.span, "CANCEL before answer: 487");
                    let bytes = message::response(&call.invite, 487, "Request Terminated", Some(&call.dialog.local_tag), &[], None);
                    call.invite_txn.respond(now, 487, &bytes);
                    self.send(call.peer, bytes, 487);
                    self.out.push_back(Output::CloseMedia { port: call.stream.local_port });
                    self.by_port.remove(&call.stream.local_port);
                    self.free_ports.push_back(call.stream.local_port);
                    self.rejected.insert(call.invite_branch.clone(), (call.invite_txn, call.peer));
                }
            }
        }
    }

    fn on_ack(&mut self, now: Instant, req: Request, call_id: &str) {
        let Some(call) = self.calls.get_mut(call_id) else { return };
        if !call.dialog.matches(&req) {
            return;
        }
        if let Some(r) = &mut call.reinvite {
            if req.cseq().map(|c| c.0) == Some(r.cseq) {
                r.answer.on_ack();
            }
        }
        if let Some(a) = &mut call.answer {
            if !a.is_acked() && req.cseq().map(|c| c.0) == call.invite.cseq().map(|c| c.0) {
                a.on_ack();
                if call.state == CallState::Answered {
                    call.state = CallState::Confirmed;
                }
                tracing::debug!(parent: &call.span, "ACK");
                if call.offerless {
                    match sdp::parse_remote(&req.body).and_then(|o| sdp::negotiate(&o, &self.cfg.codecs)) {
                        Ok(n) => call.stream.set_negotiated(n),
                        Err(e) => {
                            tracing::warn!(parent: &call.span, error = %e, "bad SDP answer in ACK: BYE");
                            call.hangup(now, &self.cfg, &mut self.out, &mut self.stats, HangupBy::Bot, "bad SDP answer");
                        }
                    }
                }
                // The call is established: the application hears of it now (its answer time
                // is the ACK's, and an offer-less call's codec is known only now).
                if call.is_active() && !call.announce_only && !call.started {
                    call.started = true;
                    let info = call_info(call);
                    self.out.push_back(Output::Event { call_id: call_id.to_string(), event: CallEvent::Started(info) });
                }
            }
        }
    }

    fn on_in_dialog(&mut self, now: Instant, from: SocketAddr, req: Request, branch: String, call_id: &str) {
        let matched = self.calls.get(call_id).is_some_and(|c| c.dialog.matches(&req) && !matches!(c.state, CallState::Ended));
        if !matched {
            return self.reply(now, &req, from, 481, "Call/Transaction Does Not Exist", &[], None);
        }
        let Some(call) = self.calls.get_mut(call_id) else { return };
        if !call.dialog.accept_remote_cseq(&req) {
            return self.reply(now, &req, from, 500, "Server Internal Error (CSeq out of order)", &[], None);
        }
        let _g = call.span.clone().entered();
        match req.method.as_str() {
            "BYE" => {
                tracing::info!("BYE from caller");
                call.finish(&mut self.out, &mut self.stats, HangupBy::Caller, "caller hung up");
                self.reply(now, &req, from, 200, "OK", &[], None);
            }
            "INFO" => {
                let ct = req.header("Content-Type").unwrap_or("").to_ascii_lowercase();
                let body = String::from_utf8_lossy(&req.body);
                let digit = if ct.starts_with("application/dtmf-relay") {
                    body.lines().find_map(|l| {
                        let (k, v) = l.split_once('=')?;
                        k.trim().eq_ignore_ascii_case("signal").then(|| v.trim().chars().next()).flatten()
                    })
                } else if ct.starts_with("application/dtmf") {
                    body.trim().chars().next()
                } else {
                    None
                };
                if let Some(d) = digit.filter(|d| crate::rtp::dtmf::digit_to_event(*d).is_some()) {
                    tracing::debug!("DTMF (SIP INFO)");
                    call.event(&mut self.out, CallEvent::Dtmf { digit: d, source: DtmfSource::SipInfo });
                }
                self.reply(now, &req, from, 200, "OK", &[], None);
            }
            "NOTIFY" => {
                let frag = String::from_utf8_lossy(&req.body);
                let code: Option<u16> = frag.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok());
                call.on_transfer_notify(now, &self.cfg, &mut self.out, code);
                self.reply(now, &req, from, 200, "OK", &[], None);
            }
            "PRACK" => self.reply(now, &req, from, 200, "OK", &[], None),
            "INVITE" | "UPDATE" => self.on_offer(now, from, req, branch, call_id),
            _ => self.reply(now, &req, from, 405, "Method Not Allowed", &[("Allow", ALLOW.to_string())], None),
        }
    }

    /// re-INVITE or UPDATE: hold/resume, codec change, session refresh.
    fn on_offer(&mut self, now: Instant, from: SocketAddr, req: Request, branch: String, call_id: &str) {
        let Some(call) = self.calls.get_mut(call_id) else { return };
        let is_invite = req.method == "INVITE";
        if is_invite && call.reinvite.as_ref().is_some_and(|r| !r.answer.is_acked() && r.txn.state() != crate::sip::transaction::InviteServerState::Terminated)
        {
            // §14.2: a re-INVITE while another is pending.
            return self.reply_invite_error(now, from, &req, 491, "Request Pending");
        }
        call.dialog.refresh_target(&req);
        if let Some(s) = &mut call.session {
            s.rearm(now);
        }
        let mut offer_all = false;
        if !req.body.is_empty() {
            match sdp::parse_remote(&req.body).and_then(|o| sdp::negotiate(&o, &self.cfg.codecs)) {
                Ok(n) => {
                    let hold = !matches!(n.direction, Direction::SendRecv | Direction::SendOnly) || n.remote.is_none();
                    if hold != call.on_hold {
                        call.on_hold = hold;
                        tracing::info!(hold, "hold state changed");
                        call.event(&mut self.out, CallEvent::Hold(hold));
                    }
                    if hold {
                        call.stream.last_rx = now;
                    }
                    call.stream.set_negotiated(n);
                }
                Err(e) => {
                    tracing::info!(error = %e, "re-offer refused: 488");
                    return if is_invite {
                        self.reply_invite_error(now, from, &req, 488, "Not Acceptable Here")
                    } else {
                        self.reply(now, &req, from, 488, "Not Acceptable Here", &[], None)
                    };
                }
            }
        } else if is_invite {
            // Offer-less re-INVITE: we offer in the 200 (answer arrives in the ACK).
            offer_all = true;
        }
        call.sdp_version += 1;
        let Some(call) = self.calls.get(call_id) else { return };
        let sdp_body = if req.body.is_empty() && !is_invite { None } else { Some(self.local_sdp(call, offer_all)) };
        let mut extra = vec![("Contact", format!("<{}>", call.dialog.local_contact)), ("Allow", ALLOW.to_string())];
        if let Some(s) = call.session {
            extra.push(("Session-Expires", format!("{};refresher={}", s.interval.as_secs(), if s.we_refresh { "uas" } else { "uac" })));
        }
        let body = sdp_body.as_deref().map(|b| ("application/sdp", b));
        if is_invite {
            let bytes = message::response(&req, 200, "OK", None, &extra, body);
            let mut txn = InviteServerTxn::new();
            txn.respond(now, 200, &bytes);
            let Some(call) = self.calls.get_mut(call_id) else { return };
            let cseq = req.cseq().map_or(0, |c| c.0);
            call.reinvite = Some(ReInvite { branch, cseq, txn, answer: AnswerRetransmitter::new(now, bytes.clone()) });
            self.send(from, bytes, 200);
        } else {
            self.reply(now, &req, from, 200, "OK", &extra, body);
        }
    }

    fn reply_invite_error(&mut self, now: Instant, from: SocketAddr, req: &Request, code: u16, reason: &str) {
        self.reject_invite(now, req, from, code, reason, &[]);
    }

    fn on_response(&mut self, now: Instant, resp: Response) {
        let Some(call_id) = resp.call_id() else { return };
        let Some(call) = self.calls.get_mut(call_id) else { return };
        let Some(branch) = resp.branch() else { return };
        let Some(c) = call.client.iter_mut().find(|c| c.branch == branch) else { return };
        if c.txn.on_response(now, resp.code) {
            let method = c.method.clone();
            tracing::debug!(parent: &call.span, code = resp.code, %method, "final response");
            call.on_client_final(now, &self.cfg, &mut self.out, &method, resp.code);
        }
    }
}

fn call_info(call: &Call) -> CallInfo {
    let inv = &call.invite;
    let from = inv.header("From").unwrap_or_default().to_string();
    let to = inv.header("To").unwrap_or_default().to_string();
    CallInfo {
        call_id: call.id.clone(),
        caller: message::user_of(message::uri_of(&from)).map(str::to_string),
        dialled: message::user_of(&inv.uri).or_else(|| message::user_of(message::uri_of(&to))).map(str::to_string),
        from,
        to,
        headers: inv.headers.clone(),
        source: call.peer,
        remote_rtp: call.stream.destination(),
        codec: call.stream.codec(),
    }
}

#[cfg(test)]
#[path = "endpoint_tests.rs"]
mod tests;
