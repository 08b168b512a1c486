//! One call's RTP stream: sending (sequence, timestamps, symmetric RTP target)
//! and receiving (source lock, jitter buffer, DTMF, statistics).
//!
//! # Source lock
//! Media is taken only from the peer's media source, so a stray or hostile sender
//! cannot inject audio or a key press (a forged '0' would transfer the call):
//! - packets from the address and port of the peer's SDP are always taken;
//! - behind NAT the SDP address is not where packets come from: with latching on,
//!   the first source (whose IP is the SDP's or the SIP peer's) is taken and the
//!   stream is locked to that address and its SSRC;
//! - once a source is locked, anything else is dropped and counted
//!   ([`RtpStream::rejected_source`]). A new SDP address (re-INVITE) unlocks it.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

use super::dtmf::{DtmfReceiver, DtmfSender};
use super::jitter::{Frame, JitterBuffer};
use super::{g711, rtcp};
use crate::sdp::{Codec, Direction, Negotiated};

const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// One caller frame (G.711 at 8 kHz, 160 samples).
const FRAME: Duration = Duration::from_millis(20);

#[derive(Debug)]
pub struct RtpStream {
    pub local_port: u16,
    pub negotiated: Option<Negotiated>,
    /// Source of the last valid packet: symmetric RTP sends there (NAT, RFC 4961).
    learned: Option<SocketAddr>,
    ssrc: u32,
    seq: u16,
    ts_base: u32,
    epoch: Instant,
    mark_next: bool,
    pub jitter: JitterBuffer,
    dtmf_rx: DtmfReceiver,
    dtmf_tx: Option<(DtmfSender, u32)>,
    pub last_rx: Instant,
    pub sent_packets: u32,
    sent_octets: u32,
    remote_ssrc: Option<u32>,
    next_rtcp: Instant,
    /// Packets from the accepted source that are not ours (not RTP, unknown payload type).
    pub foreign_packets: u64,
    lock: SourceLock,
    /// May a source other than the SDP address be latched (symmetric RTP behind NAT)?
    pub latching: bool,
    /// IP the call's SIP comes from: a NATed phone's media comes from the same one.
    pub signalling_ip: Option<IpAddr>,
    /// Datagrams (RTP or RTCP) dropped because they came from another source.
    pub rejected_source: u64,
    /// Where the next caller frame sits on the call's timeline (see [`RtpStream::pull_audio_at`]).
    next_slot: Option<Instant>,
}

/// Which source the stream takes media from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceLock {
    /// Nothing received yet.
    Open,
    /// Media came from the SDP address: only that address is accepted.
    Sdp(SocketAddr),
    /// Media came from elsewhere (NAT): that address and that SSRC only.
    Latched { addr: SocketAddr, ssrc: u32 },
}

/// What an incoming datagram meant for the application.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    Nothing,
    Dtmf(char),
}

impl RtpStream {
    pub fn new(local_port: u16, now: Instant, ssrc: u32, ts_base: u32) -> Self {
        Self {
            local_port,
            negotiated: None,
            learned: None,
            ssrc,
            seq: (ssrc >> 16) as u16,
            ts_base,
            epoch: now,
            mark_next: true,
            jitter: JitterBuffer::new(),
            dtmf_rx: DtmfReceiver::new(),
            dtmf_tx: None,
            last_rx: now,
            sent_packets: 0,
            sent_octets: 0,
            remote_ssrc: None,
            next_rtcp: now + RTCP_INTERVAL,
            foreign_packets: 0,
            lock: SourceLock::Open,
            latching: true,
            signalling_ip: None,
            rejected_source: 0,
            next_slot: None,
        }
    }

    /// Sets the outcome of an offer/answer. A new remote address (re-INVITE moving the
    /// media) unlocks the source: the next packets lock it again.
    pub fn set_negotiated(&mut self, n: crate::sdp::Negotiated) {
        let moved = self.negotiated.is_some_and(|old| old.remote != n.remote && n.remote.is_some());
        if moved {
            self.lock = SourceLock::Open;
            self.learned = None;
        }
        self.negotiated = Some(n);
    }

    pub fn source_lock(&self) -> SourceLock {
        self.lock
    }

    /// Is `from` (with this SSRC, for RTP) the stream's media source? Locks the
    /// source on the first acceptable packet.
    fn accept_source(&mut self, from: SocketAddr, ssrc: Option<u32>) -> bool {
        let sdp = self.negotiated.and_then(|n| n.remote);
        if sdp == Some(from) {
            self.lock = SourceLock::Sdp(from);
            return true;
        }
        match self.lock {
            SourceLock::Sdp(_) => false,
            SourceLock::Latched { addr, ssrc: locked } => addr == from && ssrc.is_none_or(|s| s == locked),
            SourceLock::Open => {
                // RTCP alone never latches: only media does.
                let Some(ssrc) = ssrc else { return false };
                let plausible = sdp.is_some_and(|a| a.ip() == from.ip()) || self.signalling_ip == Some(from.ip());
                if self.latching && plausible {
                    self.lock = SourceLock::Latched { addr: from, ssrc };
                    true
                } else {
                    false
                }
            }
        }
    }

    pub fn destination(&self) -> Option<SocketAddr> {
        self.learned.or(self.negotiated.and_then(|n| n.remote))
    }

    fn direction(&self) -> Direction {
        self.negotiated.map_or(Direction::Inactive, |n| n.direction)
    }

    pub fn can_send(&self) -> bool {
        self.direction().we_send() && self.destination().is_some()
    }

    /// Does the peer send media to us (inactivity timeout applies)?
    pub fn expects_media(&self) -> bool {
        matches!(self.direction(), Direction::SendRecv | Direction::RecvOnly)
    }

    pub fn on_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Received {
        if rtcp::is_rtcp(bytes) {
            if self.accept_source(from, None) {
                self.last_rx = now;
            } else {
                self.rejected_source += 1;
            }
            return Received::Nothing;
        }
        let Some(neg) = self.negotiated else { return Received::Nothing };
        let Ok(pkt) = RtpReader::new(bytes) else {
            self.foreign_packets += 1;
            return Received::Nothing;
        };
        if !self.accept_source(from, Some(pkt.ssrc())) {
            self.rejected_source += 1;
            return Received::Nothing;
        }
        let pt = pkt.payload_type();
        if pt != neg.pt && Some(pt) != neg.telephone_event {
            self.foreign_packets += 1;
            return Received::Nothing;
        }
        self.last_rx = now;
        self.learned = Some(from);
        self.remote_ssrc = Some(pkt.ssrc());
        let seq: u16 = pkt.sequence_number().into();
        if Some(pt) == neg.telephone_event {
            return match self.dtmf_rx.on_packet(pkt.timestamp(), pkt.payload()) {
                Some(d) => Received::Dtmf(d),
                None => Received::Nothing,
            };
        }
        self.jitter.push(now, seq, pkt.timestamp(), pkt.payload().to_vec());
        Received::Nothing
    }

    /// Frames of caller audio waiting beyond the jitter buffer's delay target.
    pub fn audio_backlog(&self) -> usize {
        self.jitter.backlog()
    }

    /// The next 20 ms of decoded caller audio and its place on the call's timeline.
    /// Frames played without a break are 20 ms apart whenever the reader takes them (a
    /// catch-up after a stall keeps each in its place, so the application measures the
    /// caller's pauses, not the CPU's); after the buffer ran empty (the sender paused) or
    /// before it first played, the next frame is placed at `now`.
    pub fn pull_audio_at(&mut self, now: Instant) -> Option<(Vec<i16>, Instant)> {
        let Some(audio) = self.pull_audio() else {
            self.next_slot = None;
            return None;
        };
        let at = self.next_slot.filter(|t| *t <= now).unwrap_or(now);
        self.next_slot = Some(at + FRAME);
        Some((audio, at))
    }

    /// The next 20 ms of decoded caller audio, if the jitter buffer is playing.
    pub fn pull_audio(&mut self) -> Option<Vec<i16>> {
        let codec = self.negotiated?.codec;
        let mut out = Vec::with_capacity(160);
        match self.jitter.pop()? {
            Frame::Audio(p) => g711::decode(codec, &p, &mut out),
            Frame::Repeated(p) => {
                g711::decode(codec, &p, &mut out);
                // Attenuate the repeated frame so a loss does not sound like an echo.
                out.iter_mut().for_each(|s| *s /= 2);
            }
            Frame::Silence => out.resize(160, 0),
        }
        Some(out)
    }

    fn timestamp_at(&self, at: Instant) -> u32 {
        let samples = at.saturating_duration_since(self.epoch).as_micros() / 125;
        self.ts_base.wrapping_add(samples as u32)
    }

    /// An audio packet whose media time is `due` (a playback frame's slot).
    pub fn audio_packet(&mut self, due: Instant, codec_payload: &[u8]) -> Option<(SocketAddr, Vec<u8>)> {
        let to = self.destination()?;
        let pt = self.negotiated?.pt;
        let ts = self.timestamp_at(due);
        let marker = std::mem::take(&mut self.mark_next);
        self.packet(pt, ts, marker, codec_payload).map(|p| (to, p))
    }

    /// Called when playback stops so the next talkspurt carries the marker bit.
    pub fn end_talkspurt(&mut self) {
        self.mark_next = true;
    }

    fn packet(&mut self, pt: u8, ts: u32, marker: bool, payload: &[u8]) -> Option<Vec<u8>> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let p = RtpPacketBuilder::new().payload_type(pt).ssrc(self.ssrc).sequence(Seq::from(seq)).timestamp(ts).marked(marker).payload(payload).build().ok()?;
        self.sent_packets = self.sent_packets.wrapping_add(1);
        self.sent_octets = self.sent_octets.wrapping_add(payload.len() as u32);
        Some(p)
    }

    pub fn start_dtmf(&mut self, now: Instant, digit: char) -> bool {
        if self.negotiated.and_then(|n| n.telephone_event).is_none() {
            return false;
        }
        match DtmfSender::new(digit, 100) {
            Some(s) => {
                self.dtmf_tx = Some((s, self.timestamp_at(now)));
                true
            }
            None => false,
        }
    }

    /// Per-tick work besides playback: DTMF packets and the periodic RTCP report.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<(SocketAddr, Vec<u8>)>) {
        let Some(to) = self.destination() else { return };
        if let Some((sender, ts)) = &mut self.dtmf_tx {
            let ts = *ts;
            match sender.next_packet() {
                Some(p) => {
                    if let Some(te) = self.negotiated.and_then(|n| n.telephone_event) {
                        if let Some(pkt) = self.packet(te, ts, p.marker, &p.payload) {
                            out.push((to, pkt));
                        }
                    }
                }
                None => self.dtmf_tx = None,
            }
        }
        if now >= self.next_rtcp {
            self.next_rtcp = now + RTCP_INTERVAL;
            let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            let ntp = ((wall.as_secs() + 2_208_988_800) as u32, (((wall.subsec_nanos() as u64) << 32) / 1_000_000_000) as u32);
            let s = &self.jitter.stats;
            let rx = self.remote_ssrc.map(|r| rtcp::Reception {
                remote_ssrc: r,
                fraction_lost: 0,
                cumulative_lost: s.lost as u32,
                highest_seq: s.received as u32,
                jitter_samples: (self.jitter.jitter_ms() * 8.0) as u32,
            });
            let sr = rtcp::sender_report(self.ssrc, ntp, self.timestamp_at(now), self.sent_packets, self.sent_octets, rx);
            // RTCP goes to the RTP port + 1 (RFC 3550 §11) from our RTP socket.
            let rtcp_to = SocketAddr::new(to.ip(), to.port().wrapping_add(1));
            out.push((rtcp_to, sr));
        }
    }

    pub fn codec(&self) -> Option<Codec> {
        self.negotiated.map(|n| n.codec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP_ADDR: &str = "192.0.2.10:4000";

    fn negotiated(remote: &str) -> Negotiated {
        Negotiated { codec: Codec::Pcmu, pt: 0, telephone_event: Some(101), remote: Some(remote.parse().unwrap()), direction: Direction::SendRecv }
    }

    fn stream(now: Instant) -> RtpStream {
        let mut s = RtpStream::new(20000, now, 0x1234_5678, 0);
        s.set_negotiated(negotiated(SDP_ADDR));
        s.signalling_ip = Some("192.0.2.10".parse().unwrap());
        s
    }

    fn rtp(pt: u8, ssrc: u32, seq: u16, payload: &[u8]) -> Vec<u8> {
        RtpPacketBuilder::new().payload_type(pt).ssrc(ssrc).sequence(Seq::from(seq)).timestamp(seq as u32 * 160).payload(payload).build().unwrap()
    }

    /// RFC 4733 event with the end bit.
    fn key(ssrc: u32, seq: u16, event: u8) -> Vec<u8> {
        RtpPacketBuilder::new().payload_type(101).ssrc(ssrc).sequence(Seq::from(seq)).timestamp(90_000).payload(&[event, 0x80, 0, 160]).build().unwrap()
    }

    #[test]
    fn packets_from_another_source_are_dropped_and_counted() {
        let t0 = Instant::now();
        let mut s = stream(t0);
        let sdp: SocketAddr = SDP_ADDR.parse().unwrap();
        let forger: SocketAddr = "198.51.100.7:4000".parse().unwrap();
        assert_eq!(s.on_datagram(t0, sdp, &rtp(0, 1, 1, &[0xff; 160])), Received::Nothing);
        assert_eq!(s.source_lock(), SourceLock::Sdp(sdp));
        // Forged audio and a forged key '0', from another host and from another port of the same host.
        let later = t0 + Duration::from_secs(20);
        assert_eq!(s.on_datagram(later, forger, &rtp(0, 1, 2, &[0x00; 160])), Received::Nothing);
        assert_eq!(s.on_datagram(later, forger, &key(1, 3, 0)), Received::Nothing);
        let same_host: SocketAddr = "192.0.2.10:4002".parse().unwrap();
        assert_eq!(s.on_datagram(later, same_host, &key(1, 4, 0)), Received::Nothing);
        assert_eq!(s.on_datagram(later, same_host, &rtcp::sender_report(9, (0, 0), 0, 0, 0, None)), Received::Nothing);
        assert_eq!(s.rejected_source, 4);
        assert_eq!(s.jitter.stats.received, 1, "forged audio never reaches the jitter buffer");
        assert_eq!(s.last_rx, t0, "forged packets do not keep a dead call alive");
        assert_eq!(s.destination(), Some(sdp), "we keep sending to the real peer");
        // The real source still gets through, its key too.
        assert_eq!(s.on_datagram(later, sdp, &key(1, 5, 0)), Received::Dtmf('0'));
    }

    #[test]
    fn behind_nat_the_first_source_is_latched_with_its_ssrc() {
        let t0 = Instant::now();
        let mut s = stream(t0);
        // The SDP says 192.0.2.10:4000 (a private address in real life); packets come from the NAT's port.
        let nat: SocketAddr = "192.0.2.10:61234".parse().unwrap();
        assert_eq!(s.on_datagram(t0, nat, &rtp(0, 77, 1, &[0xff; 160])), Received::Nothing);
        assert_eq!(s.source_lock(), SourceLock::Latched { addr: nat, ssrc: 77 });
        assert_eq!(s.destination(), Some(nat), "symmetric RTP answers where the packets come from");
        // Same address, another SSRC: a second sender behind the same NAT port is refused.
        assert_eq!(s.on_datagram(t0, nat, &key(78, 2, 0)), Received::Nothing);
        // Another port of the same host: refused.
        let other: SocketAddr = "192.0.2.10:61236".parse().unwrap();
        assert_eq!(s.on_datagram(t0, other, &rtp(0, 77, 3, &[0; 160])), Received::Nothing);
        assert_eq!(s.rejected_source, 2);
        assert_eq!(s.on_datagram(t0, nat, &key(77, 4, 0)), Received::Dtmf('0'));
    }

    #[test]
    fn an_unrelated_host_cannot_latch_and_latching_can_be_turned_off() {
        let t0 = Instant::now();
        let mut s = stream(t0);
        let stranger: SocketAddr = "198.51.100.7:4000".parse().unwrap();
        s.on_datagram(t0, stranger, &key(5, 1, 0));
        assert_eq!(s.source_lock(), SourceLock::Open);
        assert_eq!(s.rejected_source, 1);
        let mut strict = stream(t0);
        strict.latching = false;
        strict.on_datagram(t0, "192.0.2.10:61234".parse().unwrap(), &key(5, 1, 0));
        assert_eq!(strict.source_lock(), SourceLock::Open);
        assert_eq!(strict.rejected_source, 1);
    }

    #[test]
    fn a_new_sdp_address_unlocks_the_source() {
        let t0 = Instant::now();
        let mut s = stream(t0);
        let nat: SocketAddr = "192.0.2.10:61234".parse().unwrap();
        s.on_datagram(t0, nat, &rtp(0, 77, 1, &[0xff; 160]));
        // Same SDP again (session refresh): the lock stays.
        s.set_negotiated(negotiated(SDP_ADDR));
        assert_eq!(s.source_lock(), SourceLock::Latched { addr: nat, ssrc: 77 });
        // The media moves (re-INVITE to another address): the new one is taken.
        let moved: SocketAddr = "192.0.2.20:5000".parse().unwrap();
        s.set_negotiated(negotiated("192.0.2.20:5000"));
        assert_eq!(s.on_datagram(t0, moved, &key(90, 1, 5)), Received::Dtmf('5'));
        assert_eq!(s.source_lock(), SourceLock::Sdp(moved));
        assert_eq!(s.on_datagram(t0, nat, &key(77, 2, 6)), Received::Nothing);
    }

    #[test]
    fn frames_keep_their_places_on_the_timeline_through_a_stall_and_a_pause() {
        let t0 = Instant::now();
        let mut s = stream(t0);
        let sdp: SocketAddr = SDP_ADDR.parse().unwrap();
        let at = |m: u64| t0 + Duration::from_millis(m);
        // Four frames arrive 20 ms apart; the reader takes one per 20 ms tick.
        let mut placed = Vec::new();
        for i in 0..4u16 {
            s.on_datagram(at(u64::from(i) * 20), sdp, &rtp(0, 1, i, &[0xff; 160]));
        }
        let mut tick = 80;
        while let Some((_, t)) = s.pull_audio_at(at(tick)) {
            placed.push(t);
            tick += 20;
            if s.audio_backlog() == 0 && placed.len() >= 2 {
                break;
            }
        }
        // A stall: ten more frames wait while no tick runs, then come out in one go.
        for i in 4..14u16 {
            s.on_datagram(at(100 + u64::from(i) * 20), sdp, &rtp(0, 1, i, &[0xff; 160]));
        }
        let late = at(400);
        while let Some((_, t)) = s.pull_audio_at(late) {
            placed.push(t);
        }
        let gaps: Vec<u128> = placed.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
        assert!(gaps.iter().all(|g| *g == 20), "frames 20 ms apart whatever the reader's stall: {gaps:?}");
        assert!(placed.iter().all(|t| *t <= late), "never placed ahead of the reader");
        // The sender paused (the buffer ran empty): the next talkspurt starts where it is read.
        assert!(s.pull_audio_at(at(420)).is_none());
        for i in 14..26u16 {
            s.on_datagram(at(2000 + u64::from(i - 14) * 20), sdp, &rtp(0, 1, i, &[0xff; 160]));
        }
        let resumed = (0..10).find_map(|k| s.pull_audio_at(at(2060 + k * 20))).map(|(_, t)| t);
        assert!(resumed.is_some_and(|t| t >= at(2060)), "placed at the tick that took it: {resumed:?}");
    }
}
