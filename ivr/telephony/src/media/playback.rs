//! Paced playback of one prompt: frame i is due at start + i·20 ms, so pacing
//! never drifts whatever the ticker's own jitter. Stoppable at any frame; the
//! number of frames actually handed to the network is what `played_ms` reports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::prompt::{Prompt, FRAME_MS};

/// If the ticker was stalled longer than this, re-anchor instead of bursting
/// the backlog (a burst would overflow the caller's jitter buffer).
const MAX_CATCH_UP: Duration = Duration::from_millis(60);

#[derive(Debug)]
pub struct Playback {
    pub prompt: Arc<Prompt>,
    pub interruptible: bool,
    next_frame: usize,
    next_due: Instant,
    sent: usize,
    anchored: bool,
}

impl Playback {
    pub fn new(prompt: Arc<Prompt>, interruptible: bool, now: Instant) -> Self {
        Self { prompt, interruptible, next_frame: 0, next_due: now, sent: 0, anchored: false }
    }

    /// Indices of the frames due by `now + lookahead`, and their due instants (for
    /// RTP timestamps). The first call anchors the schedule on `now`: called from a
    /// periodic ticker, every later frame then falls on a tick instead of between
    /// two (which would send 0/40 ms pairs whenever the ticker wobbles).
    pub fn due_frames(&mut self, now: Instant, lookahead: Duration) -> Vec<(usize, Instant)> {
        let mut out = Vec::new();
        if !self.anchored || now.saturating_duration_since(self.next_due) > MAX_CATCH_UP {
            self.anchored = true;
            self.next_due = now;
        }
        while self.next_due <= now + lookahead && self.next_frame < self.prompt.frames() {
            out.push((self.next_frame, self.next_due));
            self.next_frame += 1;
            self.sent += 1;
            self.next_due += Duration::from_millis(FRAME_MS);
        }
        out
    }

    /// Holds the playback (the caller put us on hold: nothing is heard).
    pub fn pause_until(&mut self, now: Instant) {
        self.next_due = self.next_due.max(now + Duration::from_millis(FRAME_MS));
    }

    pub fn is_finished(&self) -> bool {
        self.next_frame >= self.prompt.frames()
    }

    pub fn played_ms(&self) -> u64 {
        self.sent as u64 * FRAME_MS
    }

    pub fn next_due(&self) -> Instant {
        self.next_due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_exactly_and_interrupted_reports_sent_ms() {
        let p = Prompt::tone("t", 440.0, 1000, 8000);
        assert_eq!(p.frames(), 50);
        let t0 = Instant::now();
        let mut pb = Playback::new(p, true, t0);
        let mut sent = 0;
        // A ticker with up to 15 ms of lateness still sends one frame per 20 ms on average.
        for i in 0..25u64 {
            let late = (i * 7) % 16;
            sent += pb.due_frames(t0 + Duration::from_millis(i * 20 + late), Duration::ZERO).len();
        }
        assert!((24..=26).contains(&sent), "sent {sent}");
        assert_eq!(pb.played_ms(), sent as u64 * 20);
        assert!(!pb.is_finished());
    }

    #[test]
    fn schedule_locks_to_the_ticker_phase() {
        let p = Prompt::tone("t", 440.0, 2000, 8000);
        let t0 = Instant::now();
        let mut pb = Playback::new(p, true, t0 - Duration::from_millis(11));
        // Ticks every 20 ms wobbling by up to +/-2 ms: exactly one frame per tick.
        for i in 0..50u64 {
            let wobble = [0i64, 2, -2, 1, -1][i as usize % 5];
            let now = t0 + Duration::from_millis(i * 20 + 5) - Duration::from_millis(5);
            let now = if wobble >= 0 { now + Duration::from_millis(wobble as u64) } else { now - Duration::from_millis((-wobble) as u64) };
            assert_eq!(pb.due_frames(now, Duration::from_millis(10)).len(), 1, "tick {i}");
        }
    }

    #[test]
    fn finishes_after_all_frames_and_reanchors_after_stall() {
        let p = Prompt::tone("t", 440.0, 100, 8000);
        let t0 = Instant::now();
        let mut pb = Playback::new(p, false, t0);
        assert_eq!(pb.due_frames(t0, Duration::ZERO).len(), 1);
        // Stalled 500 ms: no burst of 25 frames, playback resumes from here.
        assert_eq!(pb.due_frames(t0 + Duration::from_millis(500), Duration::ZERO).len(), 1);
        for i in 1..10 {
            pb.due_frames(t0 + Duration::from_millis(500 + i * 20), Duration::ZERO);
        }
        assert!(pb.is_finished());
        assert_eq!(pb.played_ms(), 100);
    }
}
