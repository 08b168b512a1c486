//! RFC 4733 telephone-events: receive (one digit per event, however many
//! retransmitted or end packets carry it) and send.

/// Digit for an RFC 4733 event code (0-9, *, #, A-D).
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

pub fn digit_to_event(d: char) -> Option<u8> {
    match d.to_ascii_uppercase() {
        c @ '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        c @ 'A'..='D' => Some(c as u8 - b'A' + 12),
        _ => None,
    }
}

/// Receiver-side deduplication: an event is identified by its RTP timestamp
/// (RFC 4733 §2.5.1.2); its updates and the three end packets share it.
#[derive(Debug, Default)]
pub struct DtmfReceiver {
    last_ts: Option<u32>,
    last_ended: bool,
}

impl DtmfReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the digit the first time an event is seen.
    pub fn on_packet(&mut self, timestamp: u32, payload: &[u8]) -> Option<char> {
        if payload.len() < 4 {
            return None;
        }
        let end = payload[1] & 0x80 != 0;
        if self.last_ts == Some(timestamp) {
            self.last_ended |= end;
            return None;
        }
        self.last_ts = Some(timestamp);
        self.last_ended = end;
        event_to_digit(payload[0])
    }
}

/// Sender of one event: 20 ms updates with growing duration, then the end
/// packet sent three times (RFC 4733 §2.5.1.4), all with the event's timestamp.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    event: u8,
    step: u16,
    steps: u16,
    end_sent: u8,
}

pub struct DtmfPacket {
    pub marker: bool,
    pub payload: [u8; 4],
}

impl DtmfSender {
    /// `duration_ms` is rounded to 20 ms steps (at least one).
    pub fn new(digit: char, duration_ms: u32) -> Option<Self> {
        let event = digit_to_event(digit)?;
        Some(Self { event, step: 0, steps: (duration_ms / 20).max(1) as u16, end_sent: 0 })
    }

    pub fn next_packet(&mut self) -> Option<DtmfPacket> {
        if self.end_sent >= 3 {
            return None;
        }
        let marker = self.step == 0;
        let end = self.step + 1 >= self.steps;
        if self.step < self.steps {
            self.step += 1;
        }
        if end {
            self.end_sent += 1;
        }
        let duration = self.step * 160;
        let d = duration.to_be_bytes();
        // Volume 10 (-10 dBm0), a usual value.
        Some(DtmfPacket { marker, payload: [self.event, if end { 0x80 | 10 } else { 10 }, d[0], d[1]] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_digit_per_event_despite_retransmissions() {
        let mut rx = DtmfReceiver::new();
        let mut got = Vec::new();
        let mut tx = DtmfSender::new('5', 100).unwrap();
        while let Some(p) = tx.next_packet() {
            got.extend(rx.on_packet(1000, &p.payload));
        }
        let mut tx = DtmfSender::new('#', 60).unwrap();
        while let Some(p) = tx.next_packet() {
            got.extend(rx.on_packet(5000, &p.payload));
        }
        // Same digit again: a new event has a new timestamp.
        got.extend(rx.on_packet(9000, &[11, 0x80, 0, 160]));
        assert_eq!(got, vec!['5', '#', '#']);
    }

    #[test]
    fn sender_ends_with_three_end_packets() {
        let mut tx = DtmfSender::new('1', 60).unwrap();
        let mut pkts = Vec::new();
        while let Some(p) = tx.next_packet() {
            pkts.push(p);
        }
        assert_eq!(pkts.len(), 5);
        assert!(pkts[0].marker);
        assert_eq!(pkts.iter().filter(|p| p.payload[1] & 0x80 != 0).count(), 3);
        assert_eq!(u16::from_be_bytes([pkts[4].payload[2], pkts[4].payload[3]]), 480);
        assert!(DtmfSender::new('x', 60).is_none());
        assert_eq!(DtmfReceiver::new().on_packet(1, &[1]), None);
    }
}
