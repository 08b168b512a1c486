//! Adaptive jitter buffer: reorders by sequence number, conceals losses, drops
//! late packets, and sizes its delay from the RFC 3550 interarrival jitter.
//!
//! It is pulled once per 20 ms frame by the media ticker; pushes come whenever
//! packets arrive. Time is given by the caller.
//!
//! Memory is bounded whatever arrives: at most [`MAX_PACKETS`] packets and
//! [`MAX_BYTES`] of payload are held, and a payload larger than [`MAX_PAYLOAD`] is
//! refused. A flood inside the sequence window (every packet new and in order,
//! faster than the 20 ms pull) fills the buffer to the cap and no further: beyond
//! it, the packets farthest from the playout point are dropped and counted.

use std::collections::BTreeMap;
use std::time::Instant;

/// One 20 ms frame handed to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The payload received for this slot.
    Audio(Vec<u8>),
    /// Slot lost: the previous frame repeated once (short losses sound smoother).
    Repeated(Vec<u8>),
    /// Slot lost and nothing to repeat: digital silence.
    Silence,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JitterStats {
    pub received: u64,
    pub late: u64,
    pub lost: u64,
    pub duplicates: u64,
    /// Frames taken out while more than the delay target was held (after a stall or a
    /// burst: the caller's words, which the reader catches up on rather than dropping
    /// them; see [`JitterBuffer::backlog`]).
    pub caught_up: u64,
    /// Times the sender's renumbered stream was followed (RFC 3550 A.1).
    pub resyncs: u64,
    /// Packets dropped because the buffer was full (or the payload oversized).
    pub overflow: u64,
}

/// Packets held at most: 1.6 s of 20 ms frames, four times the largest delay target.
pub const MAX_PACKETS: usize = 80;
/// Payload bytes held at most (80 G.711 frames of 20 ms are 12,800 bytes).
pub const MAX_BYTES: usize = 32 * 1024;
/// Largest payload taken: 120 ms of G.711 (RFC 3551 allows ptime up to that in practice).
pub const MAX_PAYLOAD: usize = 960;

/// RFC 3550 A.1: a sequence number this far ahead of the highest seen, or this far behind,
/// is not the same stream going on: the sender restarted it (a softphone after hold, an
/// SBC re-anchoring media). Two such packets in a row restart the buffer at the new
/// numbering; a lone stray one is dropped.
const MAX_DROPOUT: i64 = 3000;
const MAX_MISORDER: i64 = 100;

const MIN_TARGET: usize = 1;
const MAX_TARGET: usize = 10;
const FRAME_MS: f64 = 20.0;

#[derive(Debug)]
pub struct JitterBuffer {
    packets: BTreeMap<u64, Vec<u8>>,
    /// Payload bytes in `packets`.
    bytes: usize,
    next: Option<u64>,
    highest: Option<u64>,
    playing: bool,
    target: usize,
    jitter_ms: f64,
    last_transit: Option<f64>,
    epoch: Option<Instant>,
    last_frame: Option<Vec<u8>>,
    repeated: bool,
    /// After a jump in numbering: the sequence number that would confirm the new numbering.
    probation: Option<u16>,
    pub stats: JitterStats,
}

impl Default for JitterBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl JitterBuffer {
    pub fn new() -> Self {
        Self {
            packets: BTreeMap::new(),
            bytes: 0,
            next: None,
            highest: None,
            playing: false,
            target: 2,
            jitter_ms: 0.0,
            last_transit: None,
            epoch: None,
            last_frame: None,
            repeated: false,
            probation: None,
            stats: JitterStats::default(),
        }
    }

    /// Current delay target, in frames.
    pub fn target_frames(&self) -> usize {
        self.target
    }

    pub fn jitter_ms(&self) -> f64 {
        self.jitter_ms
    }

    /// Frames held beyond the delay target: after a stall of the reader (a busy CPU) or a
    /// burst from the network, the reader takes these at once to catch up.
    pub fn backlog(&self) -> usize {
        if self.playing {
            self.packets.len().saturating_sub(self.target)
        } else {
            0
        }
    }

    /// Packets and payload bytes held now.
    pub fn held(&self) -> (usize, usize) {
        (self.packets.len(), self.bytes)
    }

    fn take(&mut self, ext: u64) -> Option<Vec<u8>> {
        let p = self.packets.remove(&ext)?;
        self.bytes -= p.len();
        Some(p)
    }

    /// Makes room for a packet of `len` bytes at `ext` by dropping the packets
    /// farthest ahead of it; false when `ext` is itself the farthest (drop it instead).
    fn make_room(&mut self, ext: u64, len: usize) -> bool {
        while self.packets.len() >= MAX_PACKETS || self.bytes + len > MAX_BYTES {
            match self.packets.keys().next_back().copied() {
                Some(last) if last > ext => {
                    self.take(last);
                    self.stats.overflow += 1;
                }
                _ => return false,
            }
        }
        true
    }

    pub fn push(&mut self, now: Instant, seq: u16, timestamp: u32, payload: Vec<u8>) {
        if payload.len() > MAX_PAYLOAD {
            self.stats.overflow += 1;
            return;
        }
        if let Some(h) = self.highest {
            let delta = seq.wrapping_sub(h as u16) as i16 as i64;
            if !(-MAX_MISORDER..=MAX_DROPOUT).contains(&delta) {
                if self.probation != Some(seq) {
                    self.probation = Some(seq.wrapping_add(1));
                    self.stats.late += 1;
                    return;
                }
                // Confirmed: the sender renumbered its stream. Start again from here.
                self.restart();
                self.stats.resyncs += 1;
            }
        }
        self.probation = None;
        let ext = match self.highest {
            None => seq as u64 + (1 << 32),
            Some(h) => {
                let delta = seq.wrapping_sub(h as u16) as i16 as i64;
                (h as i64 + delta).max(0) as u64
            }
        };
        // RFC 3550 A.8 jitter estimate, in milliseconds of an 8 kHz clock.
        let epoch = *self.epoch.get_or_insert(now);
        let arrival_ms = now.duration_since(epoch).as_secs_f64() * 1000.0;
        let transit = arrival_ms - timestamp as f64 / 8.0;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            if d < 10_000.0 {
                self.jitter_ms += (d - self.jitter_ms) / 16.0;
            }
        }
        self.last_transit = Some(transit);
        self.stats.received += 1;
        if self.next.is_some_and(|n| ext < n) {
            self.stats.late += 1;
            return;
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        // The numbering moves on even when the packet finds no room, so a stream
        // that outpaces the pull is not mistaken for a renumbered one.
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        if !self.make_room(ext, payload.len()) {
            self.stats.overflow += 1;
            return;
        }
        self.bytes += payload.len();
        self.packets.insert(ext, payload);
        self.target = ((2.0 * self.jitter_ms / FRAME_MS - 1e-6).ceil().max(0.0) as usize + 1).clamp(MIN_TARGET, MAX_TARGET);
    }

    /// Forgets the old numbering and timing (the statistics stay).
    fn restart(&mut self) {
        self.packets.clear();
        self.bytes = 0;
        self.next = None;
        self.highest = None;
        self.playing = false;
        self.last_transit = None;
        self.epoch = None;
        self.probation = None;
    }

    /// The frame for the next 20 ms slot, or None while (re)buffering.
    pub fn pop(&mut self) -> Option<Frame> {
        if !self.playing {
            if self.packets.len() < self.target {
                return None;
            }
            self.playing = true;
            self.next = self.packets.keys().next().copied();
        }
        // More than the target buffered (after a stall or a burst): these frames are
        // the caller's words, so they are not shed to shrink the delay; the reader
        // catches up by taking several per tick (see `backlog`).
        if self.packets.len() > self.target {
            self.stats.caught_up += 1;
        }
        let next = self.next?;
        if let Some(p) = self.take(next) {
            self.next = Some(next + 1);
            self.last_frame = Some(p.clone());
            self.repeated = false;
            return Some(Frame::Audio(p));
        }
        if self.packets.is_empty() {
            // Underrun: the sender paused or the network stalled. Re-buffer rather
            // than declare every future slot lost.
            self.playing = false;
            return None;
        }
        self.stats.lost += 1;
        self.next = Some(next + 1);
        match (&self.last_frame, self.repeated) {
            (Some(f), false) => {
                self.repeated = true;
                Some(Frame::Repeated(f.clone()))
            }
            _ => Some(Frame::Silence),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ms(t0: Instant, m: u64) -> Instant {
        t0 + Duration::from_millis(m)
    }

    #[test]
    fn reorders_and_conceals_a_loss() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new();
        jb.push(ms(t0, 0), 10, 0, vec![1]);
        jb.push(ms(t0, 20), 12, 320, vec![3]);
        jb.push(ms(t0, 21), 11, 160, vec![2]);
        jb.push(ms(t0, 60), 14, 640, vec![5]);
        let got: Vec<Option<Frame>> = (0..5).map(|_| jb.pop()).collect();
        assert_eq!(
            got,
            vec![
                Some(Frame::Audio(vec![1])),
                Some(Frame::Audio(vec![2])),
                Some(Frame::Audio(vec![3])),
                Some(Frame::Repeated(vec![3])),
                Some(Frame::Audio(vec![5])),
            ]
        );
        assert_eq!(jb.stats.lost, 1);
    }

    #[test]
    fn late_packet_is_dropped_and_counted() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new();
        for i in 0..3u16 {
            jb.push(ms(t0, i as u64 * 20), 100 + i, i as u32 * 160, vec![i as u8]);
        }
        jb.pop();
        jb.pop();
        jb.push(ms(t0, 80), 100, 0, vec![0]);
        assert_eq!(jb.stats.late, 1);
    }

    #[test]
    fn delay_target_grows_with_jitter() {
        let t0 = Instant::now();
        let mut steady = JitterBuffer::new();
        let mut jittery = JitterBuffer::new();
        for i in 0..200u64 {
            steady.push(ms(t0, i * 20), i as u16, (i * 160) as u32, vec![0]);
            let wobble = if i % 2 == 0 { 0 } else { 45 };
            jittery.push(ms(t0, i * 20 + wobble), i as u16, (i * 160) as u32, vec![0]);
        }
        assert_eq!(steady.target_frames(), 1);
        assert!(jittery.target_frames() >= 4, "target {}", jittery.target_frames());
    }

    #[test]
    fn a_renumbered_stream_is_followed_after_two_packets() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new();
        for i in 0..4u16 {
            jb.push(ms(t0, i as u64 * 20), 5000 + i, i as u32 * 160, vec![1]);
        }
        while jb.pop().is_some_and(|f| f == Frame::Audio(vec![1])) {}
        // The sender restarts its numbering far behind (and its timestamps).
        for i in 0..4u16 {
            jb.push(ms(t0, 100 + i as u64 * 20), 100 + i, 90_000 + i as u32 * 160, vec![2]);
        }
        assert_eq!(jb.stats.resyncs, 1);
        let got: Vec<Option<Frame>> = (0..3).map(|_| jb.pop()).collect();
        assert_eq!(got, vec![Some(Frame::Audio(vec![2])); 3], "the new numbering plays (its first packet was the probe)");
    }

    #[test]
    fn a_lone_stray_sequence_number_is_dropped() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new();
        jb.push(ms(t0, 0), 10, 0, vec![1]);
        jb.push(ms(t0, 20), 11, 160, vec![2]);
        jb.push(ms(t0, 30), 40_000, 999, vec![9]);
        jb.push(ms(t0, 40), 12, 320, vec![3]);
        let got: Vec<Option<Frame>> = (0..3).map(|_| jb.pop()).collect();
        assert_eq!(got, vec![Some(Frame::Audio(vec![1])), Some(Frame::Audio(vec![2])), Some(Frame::Audio(vec![3]))]);
        assert_eq!(jb.stats.resyncs, 0);
    }

    #[test]
    fn sequence_wraparound_keeps_order() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new();
        jb.push(ms(t0, 0), 65534, 0, vec![1]);
        jb.push(ms(t0, 20), 65535, 160, vec![2]);
        jb.push(ms(t0, 40), 0, 320, vec![3]);
        let got: Vec<Option<Frame>> = (0..3).map(|_| jb.pop()).collect();
        assert_eq!(got, vec![Some(Frame::Audio(vec![1])), Some(Frame::Audio(vec![2])), Some(Frame::Audio(vec![3]))]);
    }

    #[test]
    fn an_in_order_flood_is_capped_and_the_stream_plays_on() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new();
        // 50,000 new packets in sequence within one second: far faster than the 20 ms pull.
        for i in 0..50_000u32 {
            jb.push(t0 + Duration::from_micros(i as u64 * 20), i as u16, i * 160, vec![7; 160]);
            let (n, bytes) = jb.held();
            assert!(n <= MAX_PACKETS && bytes <= MAX_BYTES, "{n} packets, {bytes} bytes held");
        }
        assert!(jb.stats.overflow >= 50_000 - MAX_PACKETS as u64, "{:?}", jb.stats);
        assert_eq!(jb.stats.resyncs, 0, "a fast stream is not taken for a renumbered one");
        // What is held plays out, then the stream that follows the flood plays.
        while jb.pop().is_some() {}
        for i in 50_000..50_012u32 {
            jb.push(t0 + Duration::from_secs(2) + Duration::from_millis((i - 50_000) as u64 * 20), i as u16, i * 160, vec![9; 160]);
        }
        let got: Vec<Option<Frame>> = (0..12).map(|_| jb.pop()).collect();
        assert!(got.contains(&Some(Frame::Audio(vec![9; 160]))), "{got:?}");
    }

    #[test]
    fn the_byte_cap_holds_with_large_payloads_and_oversized_ones_are_refused() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new();
        for i in 0..200u16 {
            jb.push(ms(t0, i as u64), i, i as u32 * 160, vec![1; MAX_PAYLOAD]);
        }
        let (n, bytes) = jb.held();
        assert!(bytes <= MAX_BYTES && n == MAX_BYTES / MAX_PAYLOAD, "{n} packets, {bytes} bytes");
        jb.push(ms(t0, 300), 200, 200 * 160, vec![1; MAX_PAYLOAD + 1]);
        assert_eq!(jb.held(), (n, bytes));
        assert_eq!(jb.stats.overflow, 200 - n as u64 + 1);
    }

    #[test]
    fn when_full_the_packets_nearest_the_playout_point_are_kept() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new();
        // A burst ahead (inside the window) fills the buffer first...
        jb.push(t0, 100, 0, vec![0]);
        for i in 0..MAX_PACKETS as u16 {
            jb.push(t0, 110 + i, 0, vec![8]);
        }
        // ...then the packets due next arrive: they evict the far ones.
        for i in 101..105u16 {
            jb.push(t0, i, 0, vec![i as u8]);
        }
        assert_eq!(jb.held().0, MAX_PACKETS);
        let seqs: Vec<u16> = jb.packets.keys().map(|k| *k as u16).collect();
        assert_eq!(&seqs[..5], &[100, 101, 102, 103, 104]);
        assert_eq!(*seqs.last().unwrap(), 110 + MAX_PACKETS as u16 - 6, "the farthest ones were dropped");
        assert_eq!(jb.stats.overflow, 5);
    }

    #[test]
    fn duplicates_do_not_grow_the_buffer() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new();
        for _ in 0..1000 {
            jb.push(t0, 7, 0, vec![1; 160]);
        }
        assert_eq!(jb.held(), (1, 160));
        assert_eq!(jb.stats.duplicates, 999);
    }

    #[test]
    fn a_stalled_reader_catches_up_on_every_frame() {
        // The reader (the media tick) stalls 300 ms while packets keep coming: when it
        // resumes, every frame is still there, in order, none shed to shrink the delay.
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new();
        let mut seen = Vec::new();
        for i in 0..4u16 {
            jb.push(ms(t0, u64::from(i) * 20), i, u32::from(i) * 160, vec![i as u8; 160]);
        }
        while let Some(Frame::Audio(p)) = jb.pop() {
            seen.push(p[0]);
            if jb.backlog() == 0 {
                break;
            }
        }
        for i in 4..24u16 {
            jb.push(ms(t0, u64::from(i) * 20), i, u32::from(i) * 160, vec![i as u8; 160]);
        }
        assert!(jb.backlog() >= 15, "the stall left a backlog: {}", jb.backlog());
        while let Some(f) = jb.pop() {
            match f {
                Frame::Audio(p) => seen.push(p[0]),
                other => panic!("a frame was lost: {other:?}"),
            }
        }
        assert_eq!(seen, (0..24u8).collect::<Vec<_>>());
        assert!(jb.stats.caught_up > 0 && jb.stats.lost == 0, "{:?}", jb.stats);
    }
}
