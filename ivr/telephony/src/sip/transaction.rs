//! RFC 3261 §17 transactions as sans-IO state machines.
//!
//! Each machine is given the bytes it must (re)send and the current instant; it
//! answers with what to transmit and when it next needs to be woken. Matching a
//! datagram to a transaction (branch + method) is the endpoint's job.

use std::time::{Duration, Instant};

use super::timers::{backoff, T1, T2, TIMEOUT_64T1, TIMER_F, TIMER_H, TIMER_I, TIMER_J, TIMER_K};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnEvent {
    /// Send these bytes again to the transaction's peer.
    Retransmit(Vec<u8>),
    /// The peer never completed the exchange (timer B/F/H).
    TimedOut,
    /// The transaction is over and can be dropped.
    Terminated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteServerState {
    Proceeding,
    /// Non-2xx final sent, waiting for ACK (timer G retransmits, timer H gives up).
    Completed,
    /// ACK received; absorbing ACK retransmissions until timer I.
    Confirmed,
    /// 2xx sent (RFC 6026): INVITE retransmissions absorbed until timer L; the
    /// 2xx itself is retransmitted by [`AnswerRetransmitter`] at the dialog level.
    Accepted,
    Terminated,
}

/// INVITE server transaction, RFC 3261 §17.2.1 with the RFC 6026 Accepted state.
#[derive(Debug)]
pub struct InviteServerTxn {
    state: InviteServerState,
    last_response: Option<Vec<u8>>,
    timer_g: Option<(Instant, Duration)>,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
}

impl Default for InviteServerTxn {
    fn default() -> Self {
        Self::new()
    }
}

impl InviteServerTxn {
    pub fn new() -> Self {
        Self { state: InviteServerState::Proceeding, last_response: None, timer_g: None, timer_h: None, timer_i: None, timer_l: None }
    }

    pub fn state(&self) -> InviteServerState {
        self.state
    }

    /// Records a response the TU sends; returns false if the state forbids it
    /// (a final response was already sent).
    pub fn respond(&mut self, now: Instant, code: u16, bytes: &[u8]) -> bool {
        if self.state != InviteServerState::Proceeding {
            return false;
        }
        self.last_response = Some(bytes.to_vec());
        match code {
            100..=199 => {}
            200..=299 => {
                self.state = InviteServerState::Accepted;
                self.timer_l = Some(now + TIMEOUT_64T1);
            }
            _ => {
                self.state = InviteServerState::Completed;
                self.timer_g = Some((now + T1, T1));
                self.timer_h = Some(now + TIMER_H);
            }
        }
        true
    }

    /// A retransmitted INVITE: resend the last provisional or final response.
    pub fn on_request_retransmission(&self) -> Option<Vec<u8>> {
        match self.state {
            InviteServerState::Proceeding | InviteServerState::Completed => self.last_response.clone(),
            _ => None,
        }
    }

    /// An ACK for a non-2xx final response (same branch).
    pub fn on_ack(&mut self, now: Instant) {
        if self.state == InviteServerState::Completed {
            self.state = InviteServerState::Confirmed;
            self.timer_g = None;
            self.timer_h = None;
            self.timer_i = Some(now + TIMER_I);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timer_g.map(|g| g.0), self.timer_h, self.timer_i, self.timer_l].into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Vec<TxnEvent> {
        let mut out = Vec::new();
        if self.timer_h.is_some_and(|h| now >= h) {
            self.state = InviteServerState::Terminated;
            self.timer_g = None;
            self.timer_h = None;
            out.push(TxnEvent::TimedOut);
            out.push(TxnEvent::Terminated);
            return out;
        }
        if let Some((at, interval)) = self.timer_g {
            if now >= at {
                let next = backoff(interval);
                self.timer_g = Some((now + next, next));
                if let Some(b) = &self.last_response {
                    out.push(TxnEvent::Retransmit(b.clone()));
                }
            }
        }
        if self.timer_i.is_some_and(|t| now >= t) || self.timer_l.is_some_and(|t| now >= t) {
            self.state = InviteServerState::Terminated;
            self.timer_i = None;
            self.timer_l = None;
            out.push(TxnEvent::Terminated);
        }
        out
    }

    pub fn is_terminated(&self) -> bool {
        self.state == InviteServerState::Terminated
    }
}

/// Non-INVITE server transaction, RFC 3261 §17.2.2.
#[derive(Debug, Default)]
pub struct NonInviteServerTxn {
    last_response: Option<Vec<u8>>,
    final_sent: bool,
    timer_j: Option<Instant>,
    terminated: bool,
}

impl NonInviteServerTxn {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn respond(&mut self, now: Instant, code: u16, bytes: &[u8]) -> bool {
        if self.final_sent {
            return false;
        }
        self.last_response = Some(bytes.to_vec());
        if code >= 200 {
            self.final_sent = true;
            self.timer_j = Some(now + TIMER_J);
        }
        true
    }

    /// Retransmitted request: absorbed, answered with the last response if any.
    pub fn on_request_retransmission(&self) -> Option<Vec<u8>> {
        self.last_response.clone()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer_j
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Vec<TxnEvent> {
        if self.timer_j.is_some_and(|j| now >= j) {
            self.timer_j = None;
            self.terminated = true;
            return vec![TxnEvent::Terminated];
        }
        Vec::new()
    }

    pub fn is_terminated(&self) -> bool {
        self.terminated
    }
}

/// Non-INVITE client transaction (BYE, REFER, UPDATE), RFC 3261 §17.1.2.
#[derive(Debug)]
pub struct NonInviteClientTxn {
    request: Vec<u8>,
    timer_e: Option<(Instant, Duration)>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
    proceeding: bool,
    terminated: bool,
}

impl NonInviteClientTxn {
    /// Starts the transaction; the caller sends `request` once right away.
    pub fn new(now: Instant, request: Vec<u8>) -> Self {
        Self { request, timer_e: Some((now + T1, T1)), timer_f: Some(now + TIMER_F), timer_k: None, proceeding: false, terminated: false }
    }

    pub fn request(&self) -> &[u8] {
        &self.request
    }

    /// Feeds a response; returns true when it is the first final response (the one
    /// the TU must act on), false for provisionals and retransmitted finals.
    pub fn on_response(&mut self, now: Instant, code: u16) -> bool {
        if self.timer_k.is_some() || self.terminated {
            return false;
        }
        if code < 200 {
            self.proceeding = true;
            return false;
        }
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = Some(now + TIMER_K);
        true
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timer_e.map(|e| e.0), self.timer_f, self.timer_k].into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Vec<TxnEvent> {
        let mut out = Vec::new();
        if self.timer_f.is_some_and(|f| now >= f) {
            self.timer_e = None;
            self.timer_f = None;
            self.terminated = true;
            out.push(TxnEvent::TimedOut);
            out.push(TxnEvent::Terminated);
            return out;
        }
        if let Some((at, interval)) = self.timer_e {
            if now >= at {
                // In Proceeding, E fires every T2 (§17.1.2.2).
                let next = if self.proceeding { T2 } else { backoff(interval) };
                self.timer_e = Some((now + next, next));
                out.push(TxnEvent::Retransmit(self.request.clone()));
            }
        }
        if self.timer_k.is_some_and(|k| now >= k) {
            self.timer_k = None;
            self.terminated = true;
            out.push(TxnEvent::Terminated);
        }
        out
    }

    pub fn is_terminated(&self) -> bool {
        self.terminated
    }
}

/// The UAS core's 2xx retransmission (RFC 3261 §13.3.1.4): T1 doubling to T2 until
/// the ACK arrives; after 64·T1 without ACK the dialog must be ended with BYE.
#[derive(Debug)]
pub struct AnswerRetransmitter {
    response: Vec<u8>,
    next: Option<(Instant, Duration)>,
    deadline: Instant,
    acked: bool,
}

impl AnswerRetransmitter {
    pub fn new(now: Instant, response: Vec<u8>) -> Self {
        Self { response, next: Some((now + T1, T1)), deadline: now + TIMEOUT_64T1, acked: false }
    }

    pub fn on_ack(&mut self) {
        self.acked = true;
        self.next = None;
    }

    pub fn is_acked(&self) -> bool {
        self.acked
    }

    /// The 2xx again, for a retransmitted INVITE that reaches the dialog.
    pub fn response(&self) -> &[u8] {
        &self.response
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next.map(|_| self.next.map(|n| n.0).unwrap_or(self.deadline).min(self.deadline))
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Vec<TxnEvent> {
        let Some((at, interval)) = self.next else { return Vec::new() };
        if now >= self.deadline {
            self.next = None;
            return vec![TxnEvent::TimedOut];
        }
        if now >= at {
            let next = backoff(interval);
            self.next = Some((now + next, next));
            return vec![TxnEvent::Retransmit(self.response.clone())];
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a machine on a fake clock in 10 ms steps, recording when it retransmits.
    fn retransmit_times(
        t0: Instant,
        until: Duration,
        mut poll: impl FnMut() -> Option<Instant>,
        mut fire: impl FnMut(Instant) -> Vec<TxnEvent>,
    ) -> (Vec<u128>, Option<u128>) {
        let mut times = Vec::new();
        let mut timed_out = None;
        let mut now = t0;
        while now - t0 <= until {
            if poll().is_some_and(|t| t <= now) {
                for ev in fire(now) {
                    match ev {
                        TxnEvent::Retransmit(_) => times.push((now - t0).as_millis()),
                        TxnEvent::TimedOut => timed_out = Some((now - t0).as_millis()),
                        TxnEvent::Terminated => {}
                    }
                }
            }
            now += Duration::from_millis(10);
        }
        (times, timed_out)
    }

    #[test]
    fn invite_non_2xx_final_timer_g_then_h() {
        let t0 = Instant::now();
        let mut tx = InviteServerTxn::new();
        assert!(tx.respond(t0, 100, b"100"));
        assert_eq!(tx.on_request_retransmission(), Some(b"100".to_vec()));
        assert!(tx.respond(t0, 486, b"486"));
        assert!(!tx.respond(t0, 200, b"200"), "second final must be refused");
        let cell = std::cell::RefCell::new(tx);
        let (times, timed_out) = retransmit_times(t0, Duration::from_secs(40), || cell.borrow().poll_timeout(), |now| cell.borrow_mut().handle_timeout(now));
        // G: 0.5, 1.5, 3.5, 7.5, 11.5, ... every 4 s until H at 32 s.
        assert_eq!(&times[..5], &[500, 1500, 3500, 7500, 11500]);
        assert!(times.iter().all(|t| *t < 32000));
        assert_eq!(timed_out, Some(32000));
        assert!(cell.borrow().is_terminated());
    }

    #[test]
    fn ack_loss_then_ack_stops_retransmissions_and_timer_i_ends() {
        let t0 = Instant::now();
        let mut tx = InviteServerTxn::new();
        tx.respond(t0, 487, b"487");
        // The first ACK is lost: one retransmission at 500 ms, ACK arrives at 700 ms.
        let ev = tx.handle_timeout(t0 + Duration::from_millis(500));
        assert_eq!(ev, vec![TxnEvent::Retransmit(b"487".to_vec())]);
        tx.on_ack(t0 + Duration::from_millis(700));
        assert_eq!(tx.state(), InviteServerState::Confirmed);
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(700) + TIMER_I));
        assert!(tx.handle_timeout(t0 + Duration::from_millis(1500)).is_empty());
        let ev = tx.handle_timeout(t0 + Duration::from_millis(5700));
        assert_eq!(ev, vec![TxnEvent::Terminated]);
    }

    #[test]
    fn two_xx_retransmitted_until_ack_then_gives_up_at_64t1() {
        let t0 = Instant::now();
        let cell = std::cell::RefCell::new(AnswerRetransmitter::new(t0, b"200".to_vec()));
        let (times, timed_out) = retransmit_times(t0, Duration::from_secs(40), || cell.borrow().poll_timeout(), |now| cell.borrow_mut().handle_timeout(now));
        assert_eq!(&times[..4], &[500, 1500, 3500, 7500]);
        assert_eq!(timed_out, Some(32000));

        let mut acked = AnswerRetransmitter::new(t0, b"200".to_vec());
        acked.handle_timeout(t0 + T1);
        acked.on_ack();
        assert_eq!(acked.poll_timeout(), None);
        assert!(acked.handle_timeout(t0 + Duration::from_secs(40)).is_empty());
    }

    #[test]
    fn non_invite_client_timer_e_and_f() {
        let t0 = Instant::now();
        let cell = std::cell::RefCell::new(NonInviteClientTxn::new(t0, b"BYE".to_vec()));
        let (times, timed_out) = retransmit_times(t0, Duration::from_secs(40), || cell.borrow().poll_timeout(), |now| cell.borrow_mut().handle_timeout(now));
        assert_eq!(&times[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
        assert_eq!(timed_out, Some(32000));
    }

    #[test]
    fn non_invite_client_final_response_stops_e_and_waits_k() {
        let t0 = Instant::now();
        let mut tx = NonInviteClientTxn::new(t0, b"REFER".to_vec());
        assert!(!tx.on_response(t0 + Duration::from_millis(100), 100));
        // Proceeding: E now fires at T2 intervals.
        let ev = tx.handle_timeout(t0 + T1);
        assert_eq!(ev.len(), 1);
        assert_eq!(tx.poll_timeout(), Some(t0 + T1 + T2));
        assert!(tx.on_response(t0 + Duration::from_secs(1), 202));
        assert!(!tx.on_response(t0 + Duration::from_secs(1), 202), "retransmitted final is not new");
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(1) + TIMER_K));
        assert_eq!(tx.handle_timeout(t0 + Duration::from_secs(7)), vec![TxnEvent::Terminated]);
    }

    #[test]
    fn non_invite_server_absorbs_retransmissions_until_j() {
        let t0 = Instant::now();
        let mut tx = NonInviteServerTxn::new();
        assert_eq!(tx.on_request_retransmission(), None);
        tx.respond(t0, 200, b"200 BYE");
        assert_eq!(tx.on_request_retransmission(), Some(b"200 BYE".to_vec()));
        assert!(tx.handle_timeout(t0 + Duration::from_secs(31)).is_empty());
        assert_eq!(tx.handle_timeout(t0 + TIMER_J), vec![TxnEvent::Terminated]);
    }
}
