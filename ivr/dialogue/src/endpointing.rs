//! Endpointing and barge-in: a sans-IO state machine fed one VAD speech probability
//! per audio frame (20 ms by default) with the time at the end of that frame, measured
//! from the start of the call. It never reads a clock; tests drive it with synthetic
//! probability sequences.
//!
//! Why these rules:
//! - hysteresis (enter speech at `threshold`, leave it below `neg_threshold`) so a
//!   voice dipping between words does not split an utterance;
//! - a speculative end at the first short silence lets the shell start recognition
//!   early; if the caller goes on, `SpeechResumed` tells it to drop that result;
//! - barge-in needs a *sustained* voiced run (a cough, a "hmm" or a click is shorter),
//!   and fires at the frame that completes the run, so at most `barge_in_ms` after the
//!   onset. Speech heard during a prompt that did not become a barge-in is discarded.

use std::time::Duration;

/// What the bot is listening for; sets how long a silence ends the utterance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListenContext {
    /// A free question ("posez votre question"): callers hesitate, be patient.
    OpenQuestion,
    /// oui / non, répéter, au revoir: short answers, end sooner.
    YesNo,
    /// A spoken menu choice.
    Menu,
}

/// Every threshold of the endpointer, in one place.
#[derive(Debug, Clone)]
pub struct EndpointingConfig {
    /// Duration of one frame fed to [`Endpointer::push`]. Default 20 ms (one RTP packet).
    pub frame_ms: u64,
    /// Probability at or above which a frame is voiced. Default 0.5 (Silero's own).
    pub threshold: f32,
    /// Inside speech, a frame stays speech down to this probability. Default 0.35.
    pub neg_threshold: f32,
    /// Voiced time needed to declare speech started. Default 60 ms.
    pub start_ms: u64,
    /// A dip below threshold this short does not break a voiced run. Default 40 ms.
    pub max_gap_ms: u64,
    /// Silence after which recognition may start speculatively. Default 200 ms.
    pub speculative_silence_ms: u64,
    /// Silence that ends an open question. Default 600 ms.
    pub end_silence_ms: u64,
    /// Silence that ends a yes/no answer. Default 350 ms.
    pub end_silence_yes_no_ms: u64,
    /// Silence that ends a menu answer. Default 450 ms.
    pub end_silence_menu_ms: u64,
    /// Comfort for slow speakers: an open question with less voiced speech than this so far
    /// ("bonjour…", "euh, alors…") is a start, not yet the question. Default 1000 ms.
    pub hesitant_voiced_ms: u64,
    /// Silence that ends such a short start of an open question. Default 1000 ms. It costs
    /// no latency when the start *was* the question: recognition begins at the speculative
    /// silence all the same, and takes longer than the extra wait.
    pub end_silence_hesitant_ms: u64,
    /// Shorter voiced total is a noise, not an utterance. Default 250 ms.
    pub min_speech_ms: u64,
    /// Utterances are cut here (Whisper's window is 30 s; a question is shorter). Default 15 s.
    pub max_utterance_ms: u64,
    /// Sustained voiced run that interrupts a prompt. Default 192 ms: a whole number of
    /// frames both at 20 ms (RTP) and 32 ms (Silero's 512 samples at 16 kHz), so the stop
    /// comes at most 200 ms after the first voiced frame. Measured with Silero on a
    /// synthetic noise/cough set (tests/dialogue_bargein.rs): no false barge-in down to 160 ms.
    pub barge_in_ms: u64,
}

impl Default for EndpointingConfig {
    fn default() -> Self {
        EndpointingConfig {
            frame_ms: 20,
            threshold: 0.5,
            neg_threshold: 0.35,
            start_ms: 60,
            max_gap_ms: 40,
            speculative_silence_ms: 200,
            end_silence_ms: 600,
            end_silence_yes_no_ms: 350,
            end_silence_menu_ms: 450,
            hesitant_voiced_ms: 1000,
            end_silence_hesitant_ms: 1000,
            min_speech_ms: 250,
            max_utterance_ms: 15_000,
            barge_in_ms: 192,
        }
    }
}

impl EndpointingConfig {
    fn end_silence(&self, context: ListenContext, voiced_ms: u64) -> u64 {
        match context {
            // A real start (not a noise, which ends as usual) that is still short.
            ListenContext::OpenQuestion if (self.min_speech_ms..self.hesitant_voiced_ms).contains(&voiced_ms) => {
                self.end_silence_ms.max(self.end_silence_hesitant_ms)
            }
            ListenContext::OpenQuestion => self.end_silence_ms,
            ListenContext::YesNo => self.end_silence_yes_no_ms,
            ListenContext::Menu => self.end_silence_menu_ms,
        }
    }
}

/// What the endpointer tells the shell. Times are from the start of the call; `start`
/// is the onset of the first voiced frame so the shell can cut the audio it buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointEvent {
    SpeechStart {
        start: Duration,
    },
    /// First short silence: the shell may send `start..end` to the recognizer now.
    SpeculativeEnd {
        start: Duration,
        end: Duration,
    },
    /// The caller went on after a speculative end: drop that recognition.
    SpeechResumed,
    UtteranceEnd {
        start: Duration,
        end: Duration,
    },
    /// The utterance hit `max_utterance_ms`; treat as an end.
    MaxLength {
        start: Duration,
        end: Duration,
    },
    /// Too little speech (or speech under a prompt that did not become a barge-in): discard.
    TooShort {
        start: Duration,
        end: Duration,
    },
    /// Sustained speech while an interruptible prompt plays: stop it.
    BargeIn {
        onset: Duration,
        at: Duration,
    },
}

#[derive(Debug, Clone, Copy)]
enum State {
    Idle,
    /// `voice_end` is the end of the last speech frame: the speculative and the final end
    /// of an utterance are both this stored time, so a job cut at the speculative end is
    /// recognisably the final one (recomputing it from `now - silence` drifts by the
    /// clock's jitter and made every final end look new).
    Speech {
        start: Duration,
        voice_end: Duration,
        voiced_ms: u64,
        silence_ms: u64,
        speculative: bool,
        barged: bool,
    },
}

/// One per call.
#[derive(Debug, Clone)]
pub struct Endpointer {
    cfg: EndpointingConfig,
    context: ListenContext,
    /// Some(interruptible) while a prompt plays.
    playing: Option<bool>,
    state: State,
    // Current voiced run (with gap tolerance), for onset and barge-in.
    run_onset: Option<Duration>,
    run_ms: u64,
    gap_ms: u64,
}

impl Endpointer {
    pub fn new(cfg: EndpointingConfig) -> Self {
        Endpointer { cfg, context: ListenContext::OpenQuestion, playing: None, state: State::Idle, run_onset: None, run_ms: 0, gap_ms: 0 }
    }

    pub fn config(&self) -> &EndpointingConfig {
        &self.cfg
    }

    pub fn set_context(&mut self, context: ListenContext) {
        self.context = context;
    }

    /// Tell the endpointer a prompt started (`Some(interruptible)`) or stopped (`None`).
    pub fn set_playing(&mut self, playing: Option<bool>) {
        self.playing = playing;
    }

    /// Forget any speech in progress (e.g. after a DTMF key or when a new prompt starts).
    pub fn reset(&mut self) {
        self.state = State::Idle;
        self.run_onset = None;
        self.run_ms = 0;
        self.gap_ms = 0;
    }

    /// Feed one frame: `prob` is the VAD's speech probability, `now` the time at the end
    /// of the frame. Returns at most two events (speech start and barge-in may coincide).
    pub fn push(&mut self, prob: f32, now: Duration) -> Vec<EndpointEvent> {
        let f = self.cfg.frame_ms;
        let mut out = Vec::new();
        let prob = if prob.is_finite() { prob.clamp(0.0, 1.0) } else { 0.0 };
        let in_speech = matches!(self.state, State::Speech { .. });
        let voiced = prob >= self.cfg.threshold;
        // The run (onset + sustained voicing) uses the strict threshold: barge-in must
        // not ride on hysteresis.
        if voiced {
            if self.run_onset.is_none() {
                self.run_onset = Some(now.saturating_sub(Duration::from_millis(f)));
                self.run_ms = 0;
            }
            self.run_ms += f;
            self.gap_ms = 0;
        } else if self.run_onset.is_some() {
            self.gap_ms += f;
            if self.gap_ms > self.cfg.max_gap_ms {
                self.run_onset = None;
                self.run_ms = 0;
                self.gap_ms = 0;
            }
        }
        // While a non-interruptible prompt plays, the caller cannot take the turn.
        if self.playing == Some(false) {
            self.state = State::Idle;
            return out;
        }
        match self.state {
            State::Idle => {
                if let Some(onset) = self.run_onset {
                    if self.run_ms >= self.cfg.start_ms {
                        out.push(EndpointEvent::SpeechStart { start: onset });
                        self.state = State::Speech { start: onset, voice_end: now, voiced_ms: self.run_ms, silence_ms: 0, speculative: false, barged: false };
                    }
                }
            }
            State::Speech { start, mut voice_end, mut voiced_ms, mut silence_ms, mut speculative, barged } => {
                let speechy = if in_speech { prob >= self.cfg.neg_threshold } else { voiced };
                if speechy {
                    voiced_ms += f;
                    silence_ms = 0;
                    voice_end = now;
                    if speculative {
                        speculative = false;
                        out.push(EndpointEvent::SpeechResumed);
                    }
                } else {
                    silence_ms += f;
                }
                self.state = State::Speech { start, voice_end, voiced_ms, silence_ms, speculative, barged };
                let under_prompt = self.playing.is_some() && !barged;
                let length = now.saturating_sub(start).as_millis() as u64;
                if silence_ms >= self.cfg.end_silence(self.context, voiced_ms) {
                    let end = voice_end;
                    self.state = State::Idle;
                    if under_prompt || voiced_ms < self.cfg.min_speech_ms {
                        out.push(EndpointEvent::TooShort { start, end });
                    } else {
                        out.push(EndpointEvent::UtteranceEnd { start, end });
                    }
                    return out;
                }
                if length >= self.cfg.max_utterance_ms {
                    self.state = State::Idle;
                    self.run_onset = None;
                    self.run_ms = 0;
                    out.push(EndpointEvent::MaxLength { start, end: now });
                    return out;
                }
                if !speculative && !under_prompt && silence_ms >= self.cfg.speculative_silence_ms && voiced_ms >= self.cfg.min_speech_ms {
                    let end = voice_end;
                    self.state = State::Speech { start, voice_end, voiced_ms, silence_ms, speculative: true, barged };
                    out.push(EndpointEvent::SpeculativeEnd { start, end });
                }
            }
        }
        // Barge-in: checked after the state update so speech start and barge-in can
        // come out of the same frame.
        if let (Some(true), State::Speech { start, voice_end, voiced_ms, silence_ms, speculative, barged: false }) = (self.playing, self.state) {
            if let Some(onset) = self.run_onset {
                if self.run_ms >= self.cfg.barge_in_ms {
                    self.state = State::Speech { start, voice_end, voiced_ms, silence_ms, speculative, barged: true };
                    out.push(EndpointEvent::BargeIn { onset, at: now });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed (probability, number of frames) segments; return events with their times.
    fn feed(ep: &mut Endpointer, t: &mut u64, segments: &[(f32, u64)]) -> Vec<(u64, EndpointEvent)> {
        let mut out = Vec::new();
        for &(p, n) in segments {
            for _ in 0..n {
                *t += 20;
                for e in ep.push(p, Duration::from_millis(*t)) {
                    out.push((*t, e));
                }
            }
        }
        out
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn utterance_with_speculative_end_and_final_end() {
        let mut ep = Endpointer::new(EndpointingConfig::default());
        let mut t = 0;
        // 200 ms silence, 1 s speech, 1 s silence.
        let ev = feed(&mut ep, &mut t, &[(0.05, 10), (0.9, 50), (0.05, 50)]);
        let kinds: Vec<_> = ev.iter().map(|(_, e)| *e).collect();
        assert_eq!(kinds[0], EndpointEvent::SpeechStart { start: ms(200) });
        assert_eq!(kinds[1], EndpointEvent::SpeculativeEnd { start: ms(200), end: ms(1200) });
        assert_eq!(kinds[2], EndpointEvent::UtteranceEnd { start: ms(200), end: ms(1200) });
        assert_eq!(ev[2].0, 1200 + 600, "ends after the configured 600 ms of silence");
        assert_eq!(kinds.len(), 3);
    }

    #[test]
    fn speculative_and_final_end_are_the_same_time_on_a_jittery_clock() {
        // Real frame times are never exact multiples of 20 ms (ticks drift by µs, a busy
        // CPU delays them): the final end must still equal the speculative one, or the
        // speculative recognition is thrown away and redone.
        let mut ep = Endpointer::new(EndpointingConfig::default());
        let mut t = Duration::ZERO;
        let mut ends = Vec::new();
        for (i, p) in [(0.05f32, 10), (0.9, 50), (0.05, 50)].iter().flat_map(|&(p, n)| std::iter::repeat_n(p, n)).enumerate() {
            t += Duration::from_micros(20_000 + (i as u64 * 7919) % 900);
            for e in ep.push(p, t) {
                match e {
                    EndpointEvent::SpeculativeEnd { start, end } | EndpointEvent::UtteranceEnd { start, end } => ends.push((start, end)),
                    _ => {}
                }
            }
        }
        assert_eq!(ends.len(), 2, "one speculative end, one final end");
        assert_eq!(ends[0], ends[1]);
    }

    #[test]
    fn a_hesitant_start_waits_longer_than_a_question() {
        // "Bonjour…" (600 ms), an 800 ms pause, then the question: one utterance.
        let mut ep = Endpointer::new(EndpointingConfig::default());
        let mut t = 0;
        let ev = feed(&mut ep, &mut t, &[(0.9, 30), (0.05, 40), (0.9, 80), (0.05, 50)]);
        let ends: Vec<_> = ev.iter().filter(|(_, e)| matches!(e, EndpointEvent::UtteranceEnd { .. })).collect();
        assert_eq!(ends.len(), 1, "{ev:?}");
        assert_eq!(ends[0].1, EndpointEvent::UtteranceEnd { start: ms(0), end: ms(3000) });
        // Once the question is long enough, the usual 600 ms ends it.
        assert_eq!(ends[0].0, 3000 + 600);
        // A short start that is all the caller says ends after the longer silence.
        let mut ep = Endpointer::new(EndpointingConfig::default());
        let mut t = 0;
        let ev = feed(&mut ep, &mut t, &[(0.9, 30), (0.05, 60)]);
        assert!(ev.iter().any(|(at, e)| matches!(e, EndpointEvent::UtteranceEnd { .. }) && *at == 600 + 1000), "{ev:?}");
        // Where a yes/no is expected, a short answer ends at its own silence.
        let mut ep = Endpointer::new(EndpointingConfig::default());
        ep.set_context(ListenContext::YesNo);
        let mut t = 0;
        let ev = feed(&mut ep, &mut t, &[(0.9, 20), (0.05, 30)]);
        assert!(ev.iter().any(|(at, e)| matches!(e, EndpointEvent::UtteranceEnd { .. }) && *at == 400 + 360), "{ev:?}");
    }

    #[test]
    fn pause_between_words_resumes_instead_of_ending() {
        let mut ep = Endpointer::new(EndpointingConfig::default());
        let mut t = 0;
        // speech, 300 ms pause (speculative fires), speech again, then end.
        let ev = feed(&mut ep, &mut t, &[(0.9, 30), (0.1, 15), (0.8, 30), (0.1, 40)]);
        let kinds: Vec<_> = ev.iter().map(|(_, e)| *e).collect();
        assert!(matches!(kinds[1], EndpointEvent::SpeculativeEnd { .. }));
        assert_eq!(kinds[2], EndpointEvent::SpeechResumed);
        assert!(matches!(kinds[3], EndpointEvent::SpeculativeEnd { .. }));
        assert_eq!(kinds[4], EndpointEvent::UtteranceEnd { start: ms(0), end: ms(1500) });
    }

    #[test]
    fn hysteresis_keeps_a_soft_word_inside_the_utterance() {
        let mut ep = Endpointer::new(EndpointingConfig::default());
        let mut t = 0;
        // 0.4 is under the start threshold but above neg_threshold: stays speech.
        let ev = feed(&mut ep, &mut t, &[(0.9, 20), (0.4, 40), (0.9, 10), (0.0, 40)]);
        let ends: Vec<_> = ev.iter().filter(|(_, e)| matches!(e, EndpointEvent::UtteranceEnd { .. })).collect();
        assert_eq!(ends.len(), 1);
        assert_eq!(ends[0].1, EndpointEvent::UtteranceEnd { start: ms(0), end: ms(1400) });
        let first_spec = ev.iter().find(|(_, e)| matches!(e, EndpointEvent::SpeculativeEnd { .. })).unwrap();
        assert!(first_spec.0 > 1400, "no speculative end inside the soft word");
    }

    #[test]
    fn yes_no_context_ends_sooner() {
        let mut ep = Endpointer::new(EndpointingConfig::default());
        ep.set_context(ListenContext::YesNo);
        let mut t = 0;
        let ev = feed(&mut ep, &mut t, &[(0.9, 20), (0.0, 30)]);
        let (at, e) = ev.last().copied().unwrap();
        assert_eq!(e, EndpointEvent::UtteranceEnd { start: ms(0), end: ms(400) });
        assert_eq!(at, 400 + 360, "350 ms rounded up to whole frames");
    }

    #[test]
    fn short_burst_is_discarded_and_long_speech_is_cut() {
        let mut ep = Endpointer::new(EndpointingConfig::default());
        let mut t = 0;
        let ev = feed(&mut ep, &mut t, &[(0.9, 6), (0.0, 40)]);
        assert!(matches!(ev.last().unwrap().1, EndpointEvent::TooShort { .. }));
        let ev = feed(&mut ep, &mut t, &[(0.9, 800)]);
        assert!(ev.iter().any(|(at, e)| matches!(e, EndpointEvent::MaxLength { .. }) && *at <= t));
        let max = ev.iter().find(|(_, e)| matches!(e, EndpointEvent::MaxLength { .. })).unwrap();
        assert!(matches!(max.1, EndpointEvent::MaxLength { start, end } if end - start >= ms(15_000) && end - start < ms(15_100)));
    }

    #[test]
    fn barge_in_within_200_ms_of_onset() {
        let mut ep = Endpointer::new(EndpointingConfig::default());
        ep.set_playing(Some(true));
        let mut t = 0;
        let ev = feed(&mut ep, &mut t, &[(0.02, 25), (0.85, 50)]);
        let (at, e) = ev.iter().copied().find(|(_, e)| matches!(e, EndpointEvent::BargeIn { .. })).unwrap();
        let onset = 500;
        assert_eq!(e, EndpointEvent::BargeIn { onset: ms(onset), at: ms(at) });
        assert!(at - onset <= 200, "barge-in {} ms after onset", at - onset);
        // The utterance goes on and is recognized once the prompt is stopped.
        ep.set_playing(None);
        let ev = feed(&mut ep, &mut t, &[(0.0, 40)]);
        assert!(matches!(ev.last().unwrap().1, EndpointEvent::UtteranceEnd { start, .. } if start == ms(onset)));
    }

    #[test]
    fn no_barge_in_on_cough_hmm_click_or_crackle() {
        let mut ep = Endpointer::new(EndpointingConfig::default());
        ep.set_playing(Some(true));
        let mut t = 0;
        let noises: &[&[(f32, u64)]] = &[
            &[(0.95, 1)],                                        // click
            &[(0.9, 7)],                                         // cough, 140 ms
            &[(0.7, 9)],                                         // "hmm", 180 ms
            &[(0.9, 3), (0.1, 3), (0.9, 3), (0.1, 3), (0.9, 3)], // crackle with gaps > 40 ms
            &[(0.45, 40)],                                       // steady line noise under threshold
        ];
        for noise in noises {
            let mut seq = noise.to_vec();
            seq.push((0.0, 50));
            let ev = feed(&mut ep, &mut t, &seq);
            assert!(!ev.iter().any(|(_, e)| matches!(e, EndpointEvent::BargeIn { .. } | EndpointEvent::UtteranceEnd { .. })), "{noise:?} gave {ev:?}");
        }
    }

    #[test]
    fn non_interruptible_prompt_ignores_speech() {
        let mut ep = Endpointer::new(EndpointingConfig::default());
        ep.set_playing(Some(false));
        let mut t = 0;
        let ev = feed(&mut ep, &mut t, &[(0.9, 100), (0.0, 50)]);
        assert!(ev.is_empty(), "{ev:?}");
    }

    #[test]
    fn nan_probability_counts_as_silence() {
        let mut ep = Endpointer::new(EndpointingConfig::default());
        let mut t = 0;
        let ev = feed(&mut ep, &mut t, &[(f32::NAN, 100)]);
        assert!(ev.is_empty());
    }
}
