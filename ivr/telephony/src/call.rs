//! One call: its dialog, INVITE transaction, client transactions, RTP stream and
//! playback. Driven by the endpoint; everything it wants done goes to the outbox.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::app::{CallCommand, CallEvent, HangupBy, TransferOutcome};
use crate::endpoint::{EndpointConfig, Output, Stats};
use crate::media::playback::Playback;
use crate::rtp::stream::RtpStream;
use crate::sip::dialog::Dialog;
use crate::sip::message::{self, Request};
use crate::sip::transaction::{AnswerRetransmitter, InviteServerTxn, NonInviteClientTxn, TxnEvent};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// 180 sent, 200 due at `answer_at` (CANCEL still possible).
    Ringing {
        answer_at: Instant,
    },
    /// 200 sent, waiting for the ACK (media already flows).
    Answered,
    Confirmed,
    /// BYE sent, waiting for its response.
    Ending,
    Ended,
}

#[derive(Debug)]
pub struct ClientRequest {
    pub branch: String,
    pub method: String,
    pub txn: NonInviteClientTxn,
    pub dest: SocketAddr,
}

#[derive(Debug)]
pub struct ReInvite {
    pub branch: String,
    /// Its CSeq: the ACK of its 2xx carries it (a later request may have moved the
    /// dialog's remote CSeq on, e.g. a second re-INVITE answered 491).
    pub cseq: u32,
    pub txn: InviteServerTxn,
    pub answer: AnswerRetransmitter,
}

/// RFC 4028 session timer as negotiated in the 200.
#[derive(Debug, Clone, Copy)]
pub struct SessionTimer {
    pub interval: Duration,
    pub we_refresh: bool,
    /// Next refresh we send, or the instant the session expires without refresh.
    pub next: Instant,
}

impl SessionTimer {
    pub fn rearm(&mut self, now: Instant) {
        self.next = if self.we_refresh {
            now + self.interval / 2
        } else {
            // RFC 4028 §10: BYE at expiry minus min(32 s, interval/3).
            now + self.interval - (self.interval / 3).min(Duration::from_secs(32))
        };
    }
}

pub struct Call {
    pub id: String,
    pub span: tracing::Span,
    pub state: CallState,
    pub peer: SocketAddr,
    pub invite: Request,
    pub invite_branch: String,
    pub invite_txn: InviteServerTxn,
    pub dialog: Dialog,
    pub answer: Option<AnswerRetransmitter>,
    pub reinvite: Option<ReInvite>,
    pub client: Vec<ClientRequest>,
    pub stream: RtpStream,
    pub playback: Option<Playback>,
    /// The INVITE had no SDP: our offer is in the 200, the answer comes in the ACK.
    pub offerless: bool,
    pub sdp_version: u64,
    /// The app has been told `Started` (so it must be told `Hangup`).
    pub started: bool,
    /// Overload announce mode: play the saturation prompt and hang up.
    pub announce_only: bool,
    pub session: Option<SessionTimer>,
    pub on_hold: bool,
    pub answered_at: Option<Instant>,
    /// The shell has bound the RTP port: the 200 may name it.
    pub media_ready: bool,
    /// RTP ports tried so far (busy ones are skipped).
    pub port_tries: usize,
    /// Branches of our requests: this per-call random value and a counter.
    pub branch_seed: u64,
    pub branches: u32,
    pub refer: ReferState,
}

/// Where our transfer (REFER, RFC 3515) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferState {
    Idle,
    /// REFER sent, no final response yet.
    Sent,
    /// 202 received (or a provisional NOTIFY): the outcome must come by `notify_by`.
    Accepted {
        notify_by: Instant,
    },
}

pub type Outbox = VecDeque<Output>;

/// Caller frames delivered at most per media tick while catching up after a stall
/// (5 × 20 ms: a one-second backlog is gone in a quarter of a second).
const MAX_FRAMES_PER_TICK: usize = 5;

/// Half of the 20 ms media tick.
const TICK_LOOKAHEAD: Duration = Duration::from_millis(10);

impl Call {
    pub fn event(&self, out: &mut Outbox, event: CallEvent) {
        if self.started {
            out.push_back(Output::Event { call_id: self.id.clone(), event });
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(self.state, CallState::Answered | CallState::Confirmed)
    }

    /// Where in-dialog requests go: the next hop when it is an IP literal, else
    /// the address the INVITE came from (we do no DNS; the trunk is a proxy or an SBC).
    pub fn request_destination(&self) -> SocketAddr {
        match message::host_port_of(&self.dialog.next_hop()) {
            Some((h, p)) => match h.parse::<IpAddr>() {
                Ok(ip) => SocketAddr::new(ip, p),
                Err(_) => self.peer,
            },
            None => self.peer,
        }
    }

    pub fn send_request(&mut self, now: Instant, cfg: &EndpointConfig, out: &mut Outbox, method: &str, extra: &[(&str, String)], body: Option<(&str, &[u8])>) {
        self.branches += 1;
        let branch = format!("z9hG4bK{:016x}{:x}", self.branch_seed, self.branches);
        let via = format!("{}:{}", cfg.public_ip, cfg.sip_port);
        let bytes = self.dialog.request(method, &via, &branch, extra, body);
        let dest = self.request_destination();
        out.push_back(Output::Sip { to: dest, bytes: bytes.clone() });
        self.client.push(ClientRequest { branch, method: method.to_string(), txn: NonInviteClientTxn::new(now, bytes), dest });
    }

    /// Stops playback, reporting how much was heard (the SC3.2 ratio needs it).
    pub fn stop_playback(&mut self, out: &mut Outbox) {
        if let Some(pb) = self.playback.take() {
            self.stream.end_talkspurt();
            let ev = CallEvent::PlaybackStopped { prompt_id: pb.prompt.id.clone(), played_ms: pb.played_ms(), total_ms: pb.prompt.duration_ms() };
            self.event(out, ev);
        }
    }

    /// Ends the call locally: media stops, the app hears the hang-up once.
    pub fn finish(&mut self, out: &mut Outbox, stats: &mut Stats, by: HangupBy, reason: &str) {
        if matches!(self.state, CallState::Ending | CallState::Ended) {
            return;
        }
        self.stop_playback(out);
        let rejected = self.stream.rejected_source;
        let overflow = self.stream.jitter.stats.overflow;
        tracing::info!(parent: &self.span, ?by, reason, rtp_foreign_source = rejected, rtp_overflow = overflow, "call ended");
        self.event(out, CallEvent::Hangup { by, reason: reason.to_string() });
        out.push_back(Output::CloseMedia { port: self.stream.local_port });
        stats.active = stats.active.saturating_sub(u64::from(self.answered_at.is_some()));
        stats.rtp_lost += self.stream.jitter.stats.lost;
        stats.rtp_late += self.stream.jitter.stats.late;
        stats.rtp_foreign_source += rejected;
        stats.rtp_overflow += overflow;
        self.state = CallState::Ended;
    }

    /// Bot-side hang-up: BYE (with a Reason) and end.
    pub fn hangup(&mut self, now: Instant, cfg: &EndpointConfig, out: &mut Outbox, stats: &mut Stats, by: HangupBy, reason: &str) {
        if !self.is_active() {
            return;
        }
        let reason_header = format!("SIP;cause=200;text=\"{reason}\"");
        self.send_request(now, cfg, out, "BYE", &[("Reason", reason_header)], None);
        self.finish(out, stats, by, reason);
        self.state = CallState::Ending;
    }

    pub fn command(&mut self, now: Instant, cfg: &EndpointConfig, out: &mut Outbox, stats: &mut Stats, cmd: CallCommand) {
        if !self.is_active() {
            return;
        }
        match cmd {
            CallCommand::Play { prompt, interruptible } => {
                self.stop_playback(out);
                tracing::debug!(parent: &self.span, prompt = %prompt.id, "play");
                self.playback = Some(Playback::new(prompt, interruptible, now));
            }
            CallCommand::StopPlayback => self.stop_playback(out),
            CallCommand::SendDtmf(d) => {
                self.stream.start_dtmf(now, d);
            }
            CallCommand::Hangup => self.hangup(now, cfg, out, stats, HangupBy::Bot, "normal clearing"),
            CallCommand::Transfer { target_uri, headers } => {
                let mut extra: Vec<(&str, String)> =
                    vec![("Refer-To", format!("<{target_uri}>")), ("Referred-By", format!("<sip:3230@{}:{}>", cfg.public_ip, cfg.sip_port))];
                let owned: Vec<(String, String)> = headers;
                for (n, v) in &owned {
                    extra.push((n.as_str(), v.clone()));
                }
                tracing::info!(parent: &self.span, target = %target_uri, "transfer: REFER");
                self.send_request(now, cfg, out, "REFER", &extra, None);
                self.refer = ReferState::Sent;
            }
        }
    }

    /// A final response to one of our requests.
    pub fn on_client_final(&mut self, now: Instant, cfg: &EndpointConfig, out: &mut Outbox, method: &str, code: u16) {
        match method {
            "BYE" if self.state == CallState::Ending => self.state = CallState::Ended,
            "REFER" if self.refer == ReferState::Idle => {}
            "REFER" if code == 408 => {
                // Our REFER itself went unanswered (timer F).
                tracing::info!(parent: &self.span, "transfer: no answer to REFER");
                self.refer = ReferState::Idle;
                self.event(out, CallEvent::Transfer(TransferOutcome::Failed(code)));
            }
            "REFER" if code >= 300 => {
                tracing::info!(parent: &self.span, code, "transfer refused");
                self.refer = ReferState::Idle;
                self.event(out, CallEvent::Transfer(TransferOutcome::Refused(code)));
            }
            "REFER" => {
                tracing::info!(parent: &self.span, code, "transfer accepted, waiting for NOTIFY");
                if self.refer == ReferState::Sent {
                    self.refer = ReferState::Accepted { notify_by: now + cfg.transfer_notify_timeout };
                }
            }
            _ => {}
        }
    }

    /// A NOTIFY of our transfer's progress (its sipfrag status). A provisional one
    /// re-arms the wait; a final one is the outcome, reported once. A NOTIFY with no
    /// transfer in progress (late, after the wait ran out) changes nothing.
    pub fn on_transfer_notify(&mut self, now: Instant, cfg: &EndpointConfig, out: &mut Outbox, code: Option<u16>) {
        if self.refer == ReferState::Idle {
            tracing::info!(parent: &self.span, ?code, "NOTIFY with no transfer in progress: ignored");
            return;
        }
        match code {
            Some(c) if (200..300).contains(&c) => {
                tracing::info!(parent: &self.span, code = c, "transfer completed");
                self.refer = ReferState::Idle;
                self.event(out, CallEvent::Transfer(TransferOutcome::Completed));
            }
            Some(c) if c >= 300 => {
                tracing::info!(parent: &self.span, code = c, "transfer failed");
                self.refer = ReferState::Idle;
                self.event(out, CallEvent::Transfer(TransferOutcome::Failed(c)));
            }
            _ => self.refer = ReferState::Accepted { notify_by: now + cfg.transfer_notify_timeout },
        }
    }

    /// Media work for one 20 ms tick.
    pub fn media_tick(&mut self, now: Instant, cfg: &EndpointConfig, out: &mut Outbox, stats: &mut Stats) {
        if !self.is_active() {
            return;
        }
        let port = self.stream.local_port;
        if let Some(pb) = &mut self.playback {
            if self.stream.can_send() {
                if let Some(codec) = self.stream.codec() {
                    // Frames due before the middle of the next tick go now: the
                    // prompt's phase then locks to the ticker's instead of
                    // straddling it (which would send 0/40 ms pairs).
                    for (i, due) in pb.due_frames(now, TICK_LOOKAHEAD) {
                        if let Some(frame) = pb.prompt.frame(codec, i) {
                            if let Some((to, bytes)) = self.stream.audio_packet(due, frame) {
                                out.push_back(Output::Rtp { port, to, bytes });
                            }
                        }
                    }
                }
            } else {
                pb.pause_until(now);
            }
            if pb.is_finished() {
                let ev = CallEvent::PlaybackFinished { prompt_id: pb.prompt.id.clone(), played_ms: pb.played_ms(), total_ms: pb.prompt.duration_ms() };
                self.playback = None;
                self.stream.end_talkspurt();
                self.event(out, ev);
                if self.announce_only {
                    self.hangup(now, cfg, out, stats, HangupBy::Bot, "saturation");
                    return;
                }
            }
        }
        let mut pkts = Vec::new();
        self.stream.tick(now, &mut pkts);
        for (to, bytes) in pkts {
            out.push_back(Output::Rtp { port, to, bytes });
        }
        // One frame per tick; after a stall (a busy CPU skipped ticks, the network sent a
        // burst) the frames held beyond the delay target go out now as well, a few per
        // tick, so the caller's words all reach the application and none is shed.
        for _ in 0..MAX_FRAMES_PER_TICK {
            let Some((audio, at)) = self.stream.pull_audio_at(now) else { break };
            if cfg.deliver_audio {
                self.event(out, CallEvent::Audio { samples: audio, at });
            }
            if self.stream.audio_backlog() == 0 {
                break;
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Vec<Instant> = Vec::new();
        // Before its port is bound the call waits for Input::MediaOpened, not for time.
        if let (CallState::Ringing { answer_at }, true) = (self.state, self.media_ready) {
            t.push(answer_at);
        }
        t.extend(self.invite_txn.poll_timeout());
        t.extend(self.answer.as_ref().and_then(|a| a.poll_timeout()));
        if let Some(r) = &self.reinvite {
            t.extend(r.txn.poll_timeout());
            t.extend(r.answer.poll_timeout());
        }
        t.extend(self.client.iter().filter_map(|c| c.txn.poll_timeout()));
        t.extend(self.session.map(|s| s.next));
        if let ReferState::Accepted { notify_by } = self.refer {
            t.push(notify_by);
        }
        t.into_iter().min()
    }

    /// SIP timers, RTP inactivity and session expiry. Answering at the end of
    /// ringing is done by the endpoint (it owns the answer logic).
    pub fn sip_timers(&mut self, now: Instant, cfg: &EndpointConfig, out: &mut Outbox, stats: &mut Stats) {
        for ev in self.invite_txn.handle_timeout(now) {
            if let TxnEvent::Retransmit(b) = ev {
                out.push_back(Output::Sip { to: self.peer, bytes: b });
            }
        }
        let mut no_ack = false;
        if let Some(a) = &mut self.answer {
            for ev in a.handle_timeout(now) {
                match ev {
                    TxnEvent::Retransmit(b) => out.push_back(Output::Sip { to: self.peer, bytes: b }),
                    TxnEvent::TimedOut => no_ack = true,
                    TxnEvent::Terminated => {}
                }
            }
        }
        if let Some(r) = &mut self.reinvite {
            r.txn.handle_timeout(now);
            for ev in r.answer.handle_timeout(now) {
                if let TxnEvent::Retransmit(b) = ev {
                    out.push_back(Output::Sip { to: self.peer, bytes: b });
                }
            }
        }
        if no_ack {
            tracing::warn!(parent: &self.span, "no ACK for the 200 within 64*T1 (timer H): BYE");
            self.state = CallState::Confirmed;
            self.hangup(now, cfg, out, stats, HangupBy::Timeout, "no ACK");
        }
        if let ReferState::Accepted { notify_by } = self.refer {
            if now >= notify_by && self.is_active() {
                tracing::warn!(parent: &self.span, "transfer: no NOTIFY within {:?} of the 202: failed", cfg.transfer_notify_timeout);
                self.refer = ReferState::Idle;
                self.event(out, CallEvent::Transfer(TransferOutcome::Failed(408)));
            }
        }
        let mut finals = Vec::new();
        for c in &mut self.client {
            for ev in c.txn.handle_timeout(now) {
                match ev {
                    TxnEvent::Retransmit(b) => out.push_back(Output::Sip { to: c.dest, bytes: b }),
                    TxnEvent::TimedOut => finals.push((c.method.clone(), 408)),
                    TxnEvent::Terminated => {}
                }
            }
        }
        self.client.retain(|c| !c.txn.is_terminated());
        for (m, code) in finals {
            self.on_client_final(now, cfg, out, &m, code);
        }
        if self.is_active()
            && cfg.rtp_timeout > Duration::ZERO
            && self.stream.expects_media()
            && !self.on_hold
            && now.saturating_duration_since(self.stream.last_rx) > cfg.rtp_timeout
        {
            tracing::warn!(parent: &self.span, "no RTP for {:?}: BYE", cfg.rtp_timeout);
            self.hangup(now, cfg, out, stats, HangupBy::Timeout, "RTP timeout");
        }
        if let Some(mut s) = self.session {
            if self.is_active() && now >= s.next {
                if s.we_refresh {
                    s.rearm(now);
                    self.session = Some(s);
                    let se = format!("{};refresher=uas", s.interval.as_secs());
                    self.send_request(now, cfg, out, "UPDATE", &[("Session-Expires", se), ("Supported", "timer".into())], None);
                } else {
                    self.hangup(now, cfg, out, stats, HangupBy::Timeout, "session expired");
                }
            }
        }
    }

    /// Can the endpoint forget this call?
    pub fn is_disposable(&self) -> bool {
        self.state == CallState::Ended || (self.state == CallState::Ending && self.client.iter().all(|c| c.method != "BYE"))
    }
}
