//! One call's conversation: the endpointer and the dialogue policy joined, speaking to
//! the recognizer and the playback through two small traits, so `ivr serve` only has
//! to feed frames, keys and results and carry out the returned [`Action`]s.
//!
//! Recognition is asynchronous (a worker pool): the conversation *submits* a span of
//! the call's audio with an id and later gets [`Conversation::on_recognized`] for it.
//! At the first short silence the span is submitted speculatively; if the utterance
//! then ends at that same point, the speculative job *is* the final one, so the wait for
//! the end of the silence and the encoder run overlap.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::endpointing::{EndpointEvent, Endpointer, EndpointingConfig};
use crate::policy::{Audio, Dialogue, DialogueConfig, DialogueEvent, Flow, Input, Output, Switches, TransferRequest, Understanding};

/// The recognizer queue refused a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded;

/// Speech recognition (+ matching) of a span of this call's audio, by id.
pub trait Recognize {
    /// Start recognizing `start..end` (times from the call start).
    fn submit(&mut self, id: u64, start: Duration, end: Duration) -> Result<(), Overloaded>;
    /// The result of `id` is no longer wanted.
    fn cancel(&mut self, id: u64);
}

/// Playback of pre-rendered audio on the call.
pub trait Play {
    /// Start `audio` now, replacing what plays; report its end with `on_playback_finished(id, …)`.
    fn play(&mut self, id: u64, audio: &Audio, interruptible: bool);
    fn stop(&mut self);
}

/// What the shell must do besides playing and recognizing.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Transfer(TransferRequest),
    Hangup,
    /// For the SC3.2 store and the logs.
    Event(DialogueEvent),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Job {
    id: u64,
    start: Duration,
    end: Duration,
}

pub struct Conversation<R, P> {
    endpointer: Endpointer,
    dialogue: Dialogue,
    recognizer: R,
    player: P,
    next_job: u64,
    speculative: Option<Job>,
    /// The job whose result goes to the dialogue.
    final_job: Option<Job>,
    playing: Option<u64>,
    /// The caller is speaking (between the endpointer's start and end of an utterance).
    in_speech: bool,
    /// Earlier pieces of a dictation still being recognized: a newer utterance or a key
    /// does not replace them, as every piece belongs to the request.
    kept: Vec<Job>,
    /// Keys typed while pieces of a dictation were being recognized, applied after them.
    deferred_keys: Vec<char>,
    /// How long after the end of speech a pending recognition makes the bot say it is
    /// looking (`None`: never). Default [`SLOW_RECOGNITION`].
    slow_after: Option<Duration>,
    /// The final job the caller was already told to wait for (once per question).
    slow_told: Option<u64>,
}

/// A caller who hears nothing this long after speaking is told the bot is looking
/// ("un petit instant"): on a phone, silence that long sounds like a dropped line.
pub const SLOW_RECOGNITION: Duration = Duration::from_millis(3500);

impl<R: Recognize, P: Play> Conversation<R, P> {
    pub fn new(endpoint: EndpointingConfig, dialogue: DialogueConfig, recognizer: R, player: P) -> Self {
        Conversation {
            endpointer: Endpointer::new(endpoint),
            dialogue: Dialogue::new(dialogue),
            recognizer,
            player,
            next_job: 0,
            speculative: None,
            final_job: None,
            playing: None,
            in_speech: false,
            kept: Vec::new(),
            deferred_keys: Vec::new(),
            slow_after: Some(SLOW_RECOGNITION),
            slow_told: None,
        }
    }

    /// After how long a pending recognition is announced (`None`: never; benchmarks that
    /// time the answer itself turn it off).
    pub fn set_slow_after(&mut self, after: Option<Duration>) {
        self.slow_after = after;
    }

    pub fn recognizer(&self) -> &R {
        &self.recognizer
    }

    pub fn player(&self) -> &P {
        &self.player
    }

    /// The shell's own bookkeeping lives in its recognizer and player (pending jobs, play ids).
    pub fn recognizer_mut(&mut self) -> &mut R {
        &mut self.recognizer
    }

    pub fn player_mut(&mut self) -> &mut P {
        &mut self.player
    }

    pub fn is_ended(&self) -> bool {
        self.dialogue.is_ended()
    }

    /// When to call [`Conversation::tick`] at the latest.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.awaiting_dictation() {
            return None;
        }
        match (self.dialogue.poll_timeout(), self.slow_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Pieces of a dictation are still with the recognizer: the dialogue's timers wait.
    fn awaiting_dictation(&self) -> bool {
        self.dialogue.is_collecting() && (self.final_job.is_some() || !self.kept.is_empty())
    }

    pub fn start(&mut self, flow: Flow, at: DateTime<Utc>, open: bool, switches: Switches, now: Duration) -> Vec<Action> {
        self.feed(Input::CallStarted { flow, at, open, switches, now })
    }

    /// One 20 ms frame's VAD speech probability; `now` is the end of the frame.
    pub fn on_frame(&mut self, speech_prob: f32, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        for event in self.endpointer.push(speech_prob, now) {
            match event {
                EndpointEvent::SpeechStart { .. } => {
                    self.in_speech = true;
                    actions.extend(self.feed(Input::SpeechStarted { now }))
                }
                EndpointEvent::SpeculativeEnd { start, end } => {
                    let id = self.job_id();
                    if self.recognizer.submit(id, start, end).is_ok() {
                        self.speculative = Some(Job { id, start, end });
                    }
                }
                EndpointEvent::SpeechResumed => self.drop_speculative(),
                EndpointEvent::UtteranceEnd { start, end } | EndpointEvent::MaxLength { start, end } => {
                    self.in_speech = false;
                    actions.extend(self.utterance_ended(start, end, now));
                }
                EndpointEvent::TooShort { .. } => {
                    self.in_speech = false;
                    self.drop_speculative();
                    actions.extend(self.feed(Input::SpeechDiscarded { now }));
                }
                EndpointEvent::BargeIn { .. } => actions.extend(self.feed(Input::BargeIn { now })),
            }
        }
        actions
    }

    /// A recognition result; results of cancelled or superseded jobs are ignored.
    pub fn on_recognized(&mut self, id: u64, text: String, understanding: Understanding, now: Duration) -> Vec<Action> {
        if let Some(i) = self.kept.iter().position(|j| j.id == id) {
            self.kept.remove(i);
            if !self.dialogue.is_collecting() {
                return Vec::new();
            }
        } else if self.final_job.map(|j| j.id) == Some(id) {
            self.final_job = None;
        } else {
            return Vec::new();
        }
        let mut actions = self.feed(Input::Utterance { text, understanding, now });
        if self.in_speech {
            // The caller went on talking before this result came back: the dialogue must
            // not run its timers (no input, end of a dictation) over those words.
            actions.extend(self.feed(Input::SpeechStarted { now }));
        }
        if self.kept.is_empty() && self.final_job.is_none() {
            for digit in std::mem::take(&mut self.deferred_keys) {
                actions.extend(self.feed(Input::Dtmf { digit, now }));
            }
        }
        actions
    }

    pub fn on_dtmf(&mut self, digit: char, now: Duration) -> Vec<Action> {
        // A key ends any spoken turn in progress.
        self.drop_speculative();
        let collecting = self.dialogue.is_collecting();
        if let Some(job) = self.final_job.take() {
            if collecting {
                self.kept.push(job);
            } else {
                self.recognizer.cancel(job.id);
            }
        }
        self.endpointer.reset();
        self.in_speech = false;
        if collecting && !self.kept.is_empty() {
            // "Paul Durand" then the number keyed at once: the name first, then the keys.
            self.deferred_keys.push(digit);
            return Vec::new();
        }
        self.feed(Input::Dtmf { digit, now })
    }

    pub fn on_playback_finished(&mut self, id: u64, played_ms: u64, total_ms: u64, now: Duration) -> Vec<Action> {
        if self.playing == Some(id) {
            self.playing = None;
            self.endpointer.set_playing(None);
        }
        self.feed(Input::PlaybackFinished { id, played_ms, total_ms, now })
    }

    pub fn on_transfer_result(&mut self, accepted: bool, now: Duration) -> Vec<Action> {
        self.feed(Input::TransferResult { accepted, now })
    }

    pub fn on_hangup(&mut self, now: Duration) -> Vec<Action> {
        self.drop_speculative();
        for job in self.final_job.take().into_iter().chain(std::mem::take(&mut self.kept)) {
            self.recognizer.cancel(job.id);
        }
        self.deferred_keys.clear();
        self.feed(Input::Hangup { now })
    }

    pub fn tick(&mut self, now: Duration) -> Vec<Action> {
        if self.awaiting_dictation() {
            return Vec::new();
        }
        let mut actions = Vec::new();
        if self.slow_deadline().is_some_and(|t| now >= t) {
            self.slow_told = self.final_job.map(|j| j.id);
            actions.extend(self.feed(Input::AsrOverloaded { dropped: false, now }));
        }
        actions.extend(self.feed(Input::Tick { now }));
        actions
    }

    /// When the pending final recognition counts as slow: `slow_after` past the end of its
    /// speech, unless already announced; pieces of a dictation are not announced (the
    /// caller is still giving details).
    fn slow_deadline(&self) -> Option<Duration> {
        let job = self.final_job?;
        if self.slow_told == Some(job.id) || self.dialogue.is_collecting() {
            return None;
        }
        Some(job.end + self.slow_after?)
    }

    fn job_id(&mut self) -> u64 {
        self.next_job += 1;
        self.next_job
    }

    fn drop_speculative(&mut self) {
        if let Some(job) = self.speculative.take() {
            self.recognizer.cancel(job.id);
        }
    }

    fn utterance_ended(&mut self, start: Duration, end: Duration, now: Duration) -> Vec<Action> {
        if let Some(old) = self.final_job.take() {
            if self.dialogue.is_collecting() {
                self.kept.push(old);
            } else {
                self.recognizer.cancel(old.id);
            }
        }
        match self.speculative.take() {
            // Nothing was said after the speculative cut: its result is the answer.
            Some(job) if job.start == start && job.end == end => {
                self.final_job = Some(job);
                Vec::new()
            }
            other => {
                if let Some(job) = other {
                    self.recognizer.cancel(job.id);
                }
                let id = self.job_id();
                match self.recognizer.submit(id, start, end) {
                    Ok(()) => {
                        self.final_job = Some(Job { id, start, end });
                        Vec::new()
                    }
                    Err(Overloaded) => self.feed(Input::AsrOverloaded { dropped: true, now }),
                }
            }
        }
    }

    /// Give the dialogue an input and carry out its outputs.
    fn feed(&mut self, input: Input) -> Vec<Action> {
        self.dialogue.handle(input);
        let mut actions = Vec::new();
        while let Some(out) = self.dialogue.poll_output() {
            match out {
                Output::Play { id, audio, interruptible } => {
                    self.playing = Some(id);
                    self.endpointer.set_playing(Some(interruptible));
                    self.player.play(id, &audio, interruptible);
                }
                Output::StopPlayback => {
                    self.playing = None;
                    self.endpointer.set_playing(None);
                    self.player.stop();
                }
                Output::Listen { context } => self.endpointer.set_context(context),
                Output::Transfer(t) => actions.push(Action::Transfer(t)),
                Output::Hangup => actions.push(Action::Hangup),
                Output::Event(e) => actions.push(Action::Event(e)),
            }
        }
        actions
    }
}

#[cfg(test)]
mod tests;
