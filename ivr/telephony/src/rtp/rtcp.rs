//! Minimal RTCP (RFC 3550 §6.4): a sender report with one reception report block,
//! sent every few seconds, and recognition of the peer's reports.

/// Reception figures for the report block.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reception {
    pub remote_ssrc: u32,
    pub fraction_lost: u8,
    pub cumulative_lost: u32,
    pub highest_seq: u32,
    pub jitter_samples: u32,
}

/// Sender report. `ntp` is (seconds since 1900, fraction).
pub fn sender_report(ssrc: u32, ntp: (u32, u32), rtp_ts: u32, packets: u32, octets: u32, rx: Option<Reception>) -> Vec<u8> {
    let blocks = u8::from(rx.is_some());
    let words = 6 + 6 * blocks as u16; // length in 32-bit words minus one
    let mut p = Vec::with_capacity(4 * (words as usize + 1));
    p.push(0x80 | blocks);
    p.push(200);
    p.extend_from_slice(&words.to_be_bytes());
    for v in [ssrc, ntp.0, ntp.1, rtp_ts, packets, octets] {
        p.extend_from_slice(&v.to_be_bytes());
    }
    if let Some(r) = rx {
        p.extend_from_slice(&r.remote_ssrc.to_be_bytes());
        let lost = r.cumulative_lost.min(0x7F_FFFF).to_be_bytes();
        p.extend_from_slice(&[r.fraction_lost, lost[1], lost[2], lost[3]]);
        for v in [r.highest_seq, r.jitter_samples, 0, 0] {
            p.extend_from_slice(&v.to_be_bytes());
        }
    }
    p
}

/// Is this datagram RTCP (payload types 200-204, RFC 5761 §4)?
pub fn is_rtcp(b: &[u8]) -> bool {
    b.len() >= 8 && b[0] >> 6 == 2 && (200..=204).contains(&b[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sr_layout() {
        let sr = sender_report(7, (1, 2), 3, 4, 5, Some(Reception { remote_ssrc: 9, ..Default::default() }));
        assert_eq!(sr.len(), 52);
        assert!(is_rtcp(&sr));
        assert_eq!(sr[0], 0x81);
        assert_eq!(u16::from_be_bytes([sr[2], sr[3]]), 12);
        assert_eq!(&sr[28..32], &9u32.to_be_bytes());
        assert!(!is_rtcp(&[0x80, 8, 0, 0, 0, 0, 0, 0]));
    }
}
