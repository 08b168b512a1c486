//! RFC 3261 §17 timer values, kept in one place so the transaction and dialog
//! layers cannot disagree about them.

use std::time::Duration;

/// Round-trip estimate; the base of every retransmission schedule.
pub const T1: Duration = Duration::from_millis(500);
/// Cap of the retransmission interval for non-INVITE requests and INVITE responses.
pub const T2: Duration = Duration::from_secs(4);
/// Maximum time a message stays in the network.
pub const T4: Duration = Duration::from_secs(5);
/// Timer B/F/H/J: 64·T1, how long a transaction waits before giving up.
pub const TIMEOUT_64T1: Duration = Duration::from_secs(32);
/// Timer I (unreliable transport): how long a confirmed INVITE txn absorbs ACKs.
pub const TIMER_I: Duration = T4;
/// Timer K (unreliable transport): how long a completed client txn absorbs responses.
pub const TIMER_K: Duration = T4;
/// Timer J (unreliable transport).
pub const TIMER_J: Duration = TIMEOUT_64T1;
/// Timer H: wait for the ACK of a final response.
pub const TIMER_H: Duration = TIMEOUT_64T1;
/// Timer F: non-INVITE client transaction timeout.
pub const TIMER_F: Duration = TIMEOUT_64T1;
/// RFC 3261 §17.2.1: a UAS sends 100 Trying if the TU will not answer within 200 ms;
/// we always send it at once, which is allowed and simpler.
pub const TRYING_IMMEDIATELY: bool = true;

/// Next interval of a doubling retransmission schedule capped at T2 (timers E, G and
/// the 2xx retransmission of §13.3.1.4).
pub fn backoff(previous: Duration) -> Duration {
    (previous * 2).min(T2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps_at_t2() {
        let mut d = T1;
        let mut seen = vec![d];
        for _ in 0..5 {
            d = backoff(d);
            seen.push(d);
        }
        let ms: Vec<u128> = seen.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![500, 1000, 2000, 4000, 4000, 4000]);
    }
}
