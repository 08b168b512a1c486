//! One call's RTP stream: sending (sequence, timestamps, symmetric RTP target)
//! and receiving (jitter buffer, DTMF, statistics).

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

use super::dtmf::{DtmfReceiver, DtmfSender};
use super::jitter::{Frame, JitterBuffer};
use super::{g711, rtcp};
use crate::sdp::{Codec, Direction, Negotiated};

const RTCP_INTERVAL: Duration = Duration::from_secs(5);

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
    pub foreign_packets: u64,
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
            self.last_rx = now;
            return Received::Nothing;
        }
        let Some(neg) = self.negotiated else { return Received::Nothing };
        let Ok(pkt) = RtpReader::new(bytes) else {
            self.foreign_packets += 1;
            return Received::Nothing;
        };
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
        let p = RtpPacketBuilder::new()
            .payload_type(pt)
            .ssrc(self.ssrc)
            .sequence(Seq::from(seq))
            .timestamp(ts)
            .marked(marker)
            .payload(payload)
            .build()
            .ok()?;
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
