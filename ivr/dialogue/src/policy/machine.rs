//! The state machine behind [`Dialogue`]. See the module docs in `mod.rs` for the contract.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

mod acts;
mod keypad;
mod reading;

use super::*;

/// What the caller's next words or keys mean.
#[derive(Debug, Clone, PartialEq)]
enum Waiting {
    Ask,
    Another,
    Clarify {
        a: String,
        b: String,
    },
    /// The keypad menu: its first level (`None`), or the group its digit opened.
    Keypad(Option<char>),
    Procedure(ProcedureKind),
}

impl Waiting {
    fn context(&self) -> ListenContext {
        match self {
            // After an answer the caller may ask a new question as well as reply, and
            // replies have pauses ("non merci… c'est tout"): a yes/no endpointing (350 ms)
            // cut them at the comma and kept only the clipped end.
            Waiting::Ask | Waiting::Procedure(_) | Waiting::Another => ListenContext::OpenQuestion,
            Waiting::Clarify { .. } | Waiting::Keypad(_) => ListenContext::Menu,
        }
    }
}

/// What happens once the queued audio has played.
#[derive(Debug, Clone)]
enum After {
    Listen(Waiting),
    Hangup,
    Transfer(TransferRequest),
}

/// Where the call is in its life: exactly one phase at a time, so that "ended while
/// transferring" or "closing before the start" cannot be represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No `CallStarted` yet.
    Idle,
    /// Greeting, questions, answers, procedures. `cap_passed`: the call cap passed while
    /// the caller spoke or an answer played, so the goodbye comes as soon as the bot
    /// listens again (the cap stops being a timer: it would be due at every poll and the
    /// shell would spin).
    Conversing {
        cap_passed: bool,
    },
    /// A transfer was asked; its result decides between the end and more conversation.
    Transferring {
        cap_passed: bool,
    },
    /// The last words (goodbye, closed message) play; the bot hangs up after them.
    Closing,
    Ended,
}

#[derive(Debug, Clone)]
struct Playing {
    id: u64,
    audio: Audio,
    interruptible: bool,
}

/// One call's dialogue. Feed [`Dialogue::handle`], drain [`Dialogue::poll_output`].
#[derive(Debug)]
pub struct Dialogue {
    cfg: DialogueConfig,
    flow: Flow,
    /// The intent of the caller's last words outside a procedure: what a procedure was
    /// started for (its request names it).
    last_intent: Option<String>,
    out: VecDeque<Output>,
    queue: VecDeque<Audio>,
    after: Option<After>,
    current: Option<Playing>,
    /// Stopped playbacks whose end report has not come yet.
    stopped: HashMap<u64, Audio>,
    next_id: u64,
    listening: Option<Waiting>,
    deadline: Option<Duration>,
    speaking: bool,
    phase: Phase,
    // Loop guards.
    none_count: u32,
    silence_count: u32,
    keypad_fail: u32,
    turns: u32,
    answers: u32,
    repeats: u32,
    overloads: u32,
    transfer_failures: u32,
    /// Why the last transfer was asked (its failure is told accordingly).
    transfer_reason: Option<TransferReason>,
    /// The transfer of a caller in danger failed: "répéter" says the numbers again.
    safety_failed: bool,
    clarified: bool,
    last_answer: Option<String>,
    last_topic: Option<String>,
    transcripts: Vec<String>,
    path: Vec<String>,
    procedure_text: String,
    procedure_digits: String,
    procedure_reasks: u32,
}

impl Dialogue {
    pub fn new(cfg: DialogueConfig) -> Self {
        Dialogue {
            cfg,
            flow: Flow::Choix2,
            last_intent: None,
            out: VecDeque::new(),
            queue: VecDeque::new(),
            after: None,
            current: None,
            stopped: HashMap::new(),
            next_id: 0,
            listening: None,
            deadline: None,
            speaking: false,
            phase: Phase::Idle,
            none_count: 0,
            silence_count: 0,
            keypad_fail: 0,
            turns: 0,
            answers: 0,
            repeats: 0,
            overloads: 0,
            transfer_failures: 0,
            transfer_reason: None,
            safety_failed: false,
            clarified: false,
            last_answer: None,
            last_topic: None,
            transcripts: Vec::new(),
            path: Vec::new(),
            procedure_text: String::new(),
            procedure_digits: String::new(),
            procedure_reasks: 0,
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When the shell must feed `Input::Tick` at the latest (no-input timer, call cap).
    pub fn poll_timeout(&self) -> Option<Duration> {
        let cap_due = match self.phase {
            Phase::Idle | Phase::Ended => return None,
            Phase::Conversing { cap_passed } => !cap_passed || (self.listening.is_some() && !self.speaking),
            Phase::Transferring { .. } | Phase::Closing => false,
        };
        let cap = cap_due.then_some(self.cfg.max_call);
        match (self.deadline, cap) {
            (Some(d), Some(c)) => Some(d.min(c)),
            (d, c) => d.or(c),
        }
    }

    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// A procedure is collecting the caller's details (its prompt playing or listening):
    /// every piece the caller says or keys belongs to the request.
    pub fn is_collecting(&self) -> bool {
        matches!(self.listening, Some(Waiting::Procedure(_))) || matches!(self.after, Some(After::Listen(Waiting::Procedure(_))))
    }

    /// The bot's steps so far (also sent with a transfer).
    pub fn path(&self) -> &[String] {
        &self.path
    }

    pub fn handle(&mut self, input: Input) {
        if let Input::PlaybackFinished { id, played_ms, total_ms, now } = input {
            return self.on_playback_finished(id, played_ms, total_ms, now);
        }
        if self.phase == Phase::Ended {
            return;
        }
        match input {
            Input::CallStarted { flow, open, switches, now, .. } => {
                if self.phase != Phase::Idle {
                    return;
                }
                self.phase = Phase::Conversing { cap_passed: false };
                self.flow = flow;
                if !open || switches.closed {
                    self.step("closed");
                    return self.close(vec![prompt("closed")], now);
                }
                let greeting = match flow {
                    Flow::Choix2 => "greeting_choix2",
                    Flow::Choix3 => "greeting_choix3",
                };
                self.step("greeting");
                let mut seq = vec![prompt(greeting)];
                if switches.crisis {
                    seq.push(prompt("crisis"));
                }
                if switches.saturation {
                    seq.push(prompt("saturation"));
                }
                seq.push(prompt("ask_question"));
                self.say(seq, After::Listen(Waiting::Ask), now);
            }
            Input::SpeechStarted { .. } => {
                self.speaking = true;
                self.deadline = None;
            }
            Input::SpeechDiscarded { now } => {
                self.speaking = false;
                if self.listening.is_some() {
                    self.deadline = Some(now + self.cfg.no_input);
                }
            }
            Input::BargeIn { .. } => self.on_barge_in(),
            Input::Utterance { text, understanding, now } => {
                self.speaking = false;
                let Some(waiting) = self.waiting() else { return };
                self.interrupt();
                if self.guard_turns(now) {
                    return;
                }
                self.on_utterance(waiting, text, understanding, now);
            }
            Input::Dtmf { digit, now } => {
                // A key pressed while a procedure collects details is part of a number the
                // caller gives (personal data): it goes to the request only, never to the
                // events, which are logged and kept in the accounting records.
                if !self.is_collecting() {
                    self.out.push_back(Output::Event(DialogueEvent::Dtmf { digit }));
                }
                if matches!(self.phase, Phase::Transferring { .. }) {
                    return;
                }
                let waiting = match self.waiting_for_keys() {
                    Some(w) => w,
                    None => return,
                };
                // A message that must be heard (crisis) is not skipped by a key; 0 still
                // reaches an agent, as it does at any time.
                if self.current.as_ref().is_some_and(|p| !p.interruptible) && digit != '0' {
                    self.step("dtmf-ignored");
                    return;
                }
                self.interrupt();
                if digit == '0' && !matches!(waiting, Waiting::Procedure(_)) {
                    self.step("dtmf:0");
                    return self.transfer(TransferReason::Keypad0, now);
                }
                // The digits of a number being keyed are one answer, not a turn each.
                let keying = matches!(waiting, Waiting::Procedure(_)) && digit.is_ascii_digit();
                if !keying && self.guard_turns(now) {
                    return;
                }
                self.on_dtmf(waiting, digit, now);
            }
            Input::AsrOverloaded { dropped, now } => {
                let Some(waiting) = self.waiting() else { return };
                self.overloads += 1;
                if dropped {
                    // The recognizer refused the words: waiting would not help.
                    self.step("asr-overload");
                    self.keypad_menu(now);
                } else {
                    // Slow, not lost: say so (the answer cuts this prompt when it comes).
                    self.step("asr-slow");
                    self.say(vec![prompt("wait_moment")], After::Listen(waiting), now);
                }
            }
            Input::TransferResult { accepted, now } => {
                let Phase::Transferring { cap_passed } = self.phase else { return };
                self.phase = Phase::Conversing { cap_passed };
                if accepted {
                    self.end(EndReason::Transferred);
                } else {
                    self.transfer_failures += 1;
                    self.out.push_back(Output::Event(DialogueEvent::TransferFailed));
                    self.step("transfer-failed");
                    // A caller who may be in danger hears the emergency numbers again, not
                    // "call back later".
                    let failed = if self.transfer_reason == Some(TransferReason::Urgent) || self.safety_failed {
                        self.safety_failed = true;
                        "transfer_failed_safety"
                    } else {
                        "transfer_failed"
                    };
                    if self.transfer_failures >= 2 {
                        self.close(vec![prompt(failed), prompt("goodbye")], now);
                    } else {
                        self.say(vec![prompt(failed), prompt("another_question")], After::Listen(Waiting::Another), now);
                    }
                }
            }
            Input::Hangup { .. } => self.end(EndReason::CallerHungUp),
            Input::Tick { now } => self.on_tick(now),
            Input::PlaybackFinished { .. } => {}
        }
    }

    // ---- playback -------------------------------------------------------------------

    /// The last words: the call ends once they have played.
    pub(super) fn close(&mut self, audios: Vec<Audio>, now: Duration) {
        self.phase = Phase::Closing;
        self.say(audios, After::Hangup, now);
    }

    fn say(&mut self, audios: Vec<Audio>, after: After, now: Duration) {
        self.interrupt();
        self.listening = None;
        self.deadline = None;
        self.queue = audios.into();
        self.after = Some(after);
        self.advance(now);
    }

    /// Stop what plays and forget what was queued.
    fn interrupt(&mut self) {
        if let Some(p) = self.current.take() {
            self.out.push_back(Output::StopPlayback);
            self.stopped.insert(p.id, p.audio);
        }
        self.queue.clear();
        if let Some(After::Listen(w)) = self.after.take() {
            self.listening = Some(w);
        }
    }

    fn advance(&mut self, now: Duration) {
        if let Some(audio) = self.queue.pop_front() {
            self.next_id += 1;
            let leads_to_listening = matches!(self.after, Some(After::Listen(_)));
            let interruptible = leads_to_listening && self.prompt_interruptible(&audio);
            self.out.push_back(Output::Play { id: self.next_id, audio: audio.clone(), interruptible });
            self.current = Some(Playing { id: self.next_id, audio, interruptible });
            return;
        }
        match self.after.take() {
            Some(After::Listen(w)) => {
                self.out.push_back(Output::Listen { context: w.context() });
                self.listening = Some(w);
                self.deadline = Some(now + self.cfg.no_input);
            }
            Some(After::Hangup) => {
                self.out.push_back(Output::Hangup);
                self.end(EndReason::BotHungUp);
            }
            Some(After::Transfer(req)) => {
                if let Phase::Conversing { cap_passed } = self.phase {
                    self.phase = Phase::Transferring { cap_passed };
                }
                self.out.push_back(Output::Event(DialogueEvent::Transfer { target: req.target.clone(), reason: req.reason, topic: req.topic.clone() }));
                self.out.push_back(Output::Transfer(req));
            }
            None => {}
        }
    }

    fn prompt_interruptible(&self, audio: &Audio) -> bool {
        match audio {
            Audio::Prompt(id) | Audio::PromptPart(id, _) => id != "urgent_safety" && id != "transfer_failed_safety" && !self.cfg.uninterruptible.contains(id),
            _ => true,
        }
    }

    fn on_playback_finished(&mut self, id: u64, played_ms: u64, total_ms: u64, now: Duration) {
        let audio = if self.current.as_ref().is_some_and(|p| p.id == id) { self.current.take().map(|p| p.audio) } else { self.stopped.remove(&id) };
        let Some(audio) = audio else { return };
        let answer = match &audio {
            Audio::Answer(slug) | Audio::ShortAnswer(slug) => Some(slug.clone()),
            _ => None,
        };
        self.out.push_back(Output::Event(DialogueEvent::Played { key: audio.key(), answer, played_ms, total_ms }));
        if self.phase != Phase::Ended && self.current.is_none() && (!self.queue.is_empty() || self.after.is_some()) {
            self.advance(now);
        }
    }

    fn on_barge_in(&mut self) {
        let Some(p) = &self.current else { return };
        if !p.interruptible || !matches!(self.after, Some(After::Listen(_))) {
            return;
        }
        let key = p.audio.key();
        self.out.push_back(Output::Event(DialogueEvent::BargeIn { key }));
        self.interrupt();
        if let Some(w) = &self.listening {
            self.out.push_back(Output::Listen { context: w.context() });
        }
        self.speaking = true;
        self.deadline = None;
    }

    /// What an utterance would answer now: the active listening, or the listening that
    /// follows an interruptible prompt (the caller spoke over it).
    fn waiting(&self) -> Option<Waiting> {
        if matches!(self.phase, Phase::Transferring { .. }) {
            return None;
        }
        if let Some(w) = &self.listening {
            return Some(w.clone());
        }
        match (&self.current, &self.after) {
            (Some(p), Some(After::Listen(w))) if p.interruptible => Some(w.clone()),
            (None, Some(After::Listen(w))) => Some(w.clone()),
            _ => None,
        }
    }

    /// Keys interrupt any prompt that leads to listening (not the safety message, which
    /// leads to a transfer).
    fn waiting_for_keys(&self) -> Option<Waiting> {
        if let Some(w) = &self.listening {
            return Some(w.clone());
        }
        match &self.after {
            Some(After::Listen(w)) => Some(w.clone()),
            _ => None,
        }
    }

    // ---- turns ----------------------------------------------------------------------

    fn on_dtmf(&mut self, waiting: Waiting, digit: char, now: Duration) {
        match waiting {
            Waiting::Ask => self.keypad_menu(now),
            Waiting::Another => match digit {
                '1' => self.repeat(now),
                '2' => {
                    self.step("another");
                    self.say(vec![prompt("ask_question")], After::Listen(Waiting::Ask), now)
                }
                '#' => self.goodbye(now),
                _ => self.say(vec![prompt("repeat_hint")], After::Listen(Waiting::Another), now),
            },
            Waiting::Clarify { a, b } => match digit {
                '1' => self.topic(&a, now),
                '2' => self.topic(&b, now),
                _ => self.keypad_menu(now),
            },
            Waiting::Keypad(level) => self.keypad_key(level, digit, now),
            Waiting::Procedure(kind) => match digit {
                '#' if !self.procedure_digits.is_empty() || !self.procedure_text.is_empty() => self.finish_procedure(kind, true, now),
                '*' => {
                    self.step("procedure-cancel");
                    self.say(vec![prompt("ask_question")], After::Listen(Waiting::Ask), now)
                }
                d if d.is_ascii_digit() => {
                    if self.procedure_digits.len() < 20 {
                        self.procedure_digits.push(d);
                    }
                    // Still collecting: keep listening without replaying the prompt.
                    self.listening = Some(Waiting::Procedure(kind));
                    self.deadline = Some(now + self.cfg.no_input);
                }
                _ => {
                    self.listening = Some(Waiting::Procedure(kind));
                    self.deadline = Some(now + self.cfg.no_input);
                }
            },
        }
    }

    fn on_tick(&mut self, now: Duration) {
        match self.phase {
            Phase::Idle | Phase::Transferring { .. } | Phase::Ended => return,
            Phase::Conversing { .. } if now >= self.cfg.max_call => {
                if self.listening.is_some() && !self.speaking {
                    self.step("max-call");
                    return self.goodbye(now);
                }
                self.phase = Phase::Conversing { cap_passed: true };
                return;
            }
            Phase::Conversing { .. } | Phase::Closing => {}
        }
        let Some(deadline) = self.deadline else { return };
        if now < deadline || self.speaking {
            return;
        }
        let Some(waiting) = self.listening.clone() else { return };
        if let Waiting::Procedure(kind) = waiting {
            // The pause after what the caller said or keyed ends the request: not a silence.
            if !self.procedure_digits.is_empty() || !self.procedure_text.is_empty() {
                return self.finish_procedure(kind, true, now);
            }
        }
        self.silence_count += 1;
        self.step("silence");
        match waiting {
            Waiting::Ask => {
                if self.silence_count == 1 {
                    self.say(vec![prompt("silence_reask")], After::Listen(Waiting::Ask), now)
                } else {
                    self.keypad_menu(now)
                }
            }
            // The caller has already asked: offer the same two choices again, not the
            // whole question.
            Waiting::Clarify { a, b } => {
                if self.silence_count == 1 {
                    self.ask_clarify(a, b, now)
                } else {
                    self.keypad_menu(now)
                }
            }
            Waiting::Another => self.goodbye(now),
            Waiting::Keypad(level) => self.keypad_invalid(level, now),
            Waiting::Procedure(kind) => {
                if self.procedure_reasks == 0 {
                    self.procedure_reasks += 1;
                    self.say(vec![prompt("silence_reask")], After::Listen(Waiting::Procedure(kind)), now)
                } else {
                    self.finish_procedure(kind, false, now)
                }
            }
        }
    }

    fn end(&mut self, reason: EndReason) {
        if self.phase == Phase::Ended {
            return;
        }
        self.phase = Phase::Ended;
        self.listening = None;
        self.deadline = None;
        self.queue.clear();
        self.after = None;
        self.out.push_back(Output::Event(DialogueEvent::Ended { reason }));
    }

    fn step(&mut self, s: &str) {
        // Bounded so a header stays small even on a long call.
        if self.path.len() < 40 {
            self.path.push(s.to_string());
        }
    }

    fn recent_transcript(&self, max_chars: usize) -> String {
        let joined = self.transcripts.join(" / ");
        let count = joined.chars().count();
        joined.chars().skip(count.saturating_sub(max_chars)).collect()
    }
}

pub(super) fn prompt(id: &str) -> Audio {
    Audio::Prompt(id.to_string())
}

pub(super) fn reason_tag(r: TransferReason) -> &'static str {
    match r {
        TransferReason::AgentRequest => "agent-request",
        TransferReason::Keypad0 => "keypad-0",
        TransferReason::Urgent => "urgent",
        TransferReason::TopicTransfer => "topic",
        TransferReason::RepeatedFailure => "repeated-failure",
        TransferReason::ProcedureIncomplete => "procedure-incomplete",
        TransferReason::TooLong => "too-long",
    }
}
