//! The dialogue policy: a sans-IO state machine, one per call. The shell feeds it
//! [`Input`]s (each with the time since the call started) and drains [`Output`]s with
//! [`Dialogue::poll_output`]; [`Dialogue::poll_timeout`] says when to feed a `Tick`.
//! It never plays audio, reads a clock or a file: everything it needs arrives as data,
//! so every path of a call is tested without audio.

mod machine;
pub mod replies;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use crate::endpointing::ListenContext;
pub use machine::Dialogue;

/// The 3230 menu choice the call came through: the one type for the dialogue, the call
/// records and the reports (`ivr_accounting::Flow` is this type), stored as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Flow {
    /// Choix 2: general information (non-allocataires, partners).
    #[serde(rename = "2")]
    Choix2,
    /// Choix 3: help with caf.fr / Mon Compte.
    #[serde(rename = "3")]
    Choix3,
}

impl Flow {
    pub fn number(self) -> u8 {
        match self {
            Flow::Choix2 => 2,
            Flow::Choix3 => 3,
        }
    }

    pub fn from_number(n: u8) -> Option<Flow> {
        match n {
            2 => Some(Flow::Choix2),
            3 => Some(Flow::Choix3),
            _ => None,
        }
    }
}

/// What a topic asks the dialogue to do (the knowledge file's `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicAction {
    Answer,
    Transfer,
    RedirectChoix1,
    Procedure(ProcedureKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcedureKind {
    AttestationNonPaiement,
    Rappel,
}

/// What the policy needs to know about a topic; built from `knowledge/` by the shell.
#[derive(Debug, Clone)]
pub struct TopicInfo {
    pub action: TopicAction,
    /// After the answer, suggest an appointment.
    pub complex: bool,
    /// Emergency topic: play the non-interruptible safety message, then transfer at once.
    pub urgent: bool,
}

/// The matcher's decision, as plain data (the shell maps `nlu::Decision` into it).
#[derive(Debug, Clone, PartialEq)]
pub struct Understanding {
    /// Topic slug, `@agent` or `@none`.
    pub intent: String,
    pub score: f32,
    pub runner_up: Option<String>,
    /// `answer` | `transfer` | `redirect-choix1` | `procedure` | `clarify` | `fallback`.
    pub action: String,
}

impl Understanding {
    pub fn none() -> Self {
        Understanding { intent: "@none".into(), score: 0.0, runner_up: None, action: "fallback".into() }
    }
}

/// Runtime switches (CCTP: saturation and crisis messages), read by the shell from
/// [`crate::switches::SwitchesFile`] at call start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Switches {
    /// Agents are saturated: say so after the greeting; transfers still go to the queue.
    pub saturation: bool,
    /// A crisis message (incident, strike, exceptional event) is played after the greeting.
    pub crisis: bool,
    /// Force the closed message (e.g. an exceptional closure) whatever the hours.
    pub closed: bool,
}

/// Limits and tables of the policy. Defaults keep every call bounded.
#[derive(Debug, Clone)]
pub struct DialogueConfig {
    pub topics: HashMap<String, TopicInfo>,
    /// First level of the keypad menu: digit → topic slug or `@agent` (the `keypad_menu`
    /// options). '0' is always the agent, '*' says the menu again.
    pub keypad: Vec<(char, String)>,
    /// Second level: a first-level digit that opens a group of topics, read by its own
    /// prompt. '*' goes back to the first level.
    pub keypad_groups: Vec<KeypadGroup>,
    /// Topics with a short answer (`short/<slug>`), played for a second "répéter".
    pub short_answers: HashSet<String>,
    /// Topics with a follow-up suggestion (`follow/<slug>`), played after their answer.
    pub follow_ups: HashSet<String>,
    /// Agent URI per flow (SIP REFER target).
    pub transfer_choix2: String,
    pub transfer_choix3: String,
    /// Prompt ids the caller cannot cut short (`interruptible = false` in prompts.toml).
    /// `urgent_safety` and `transfer_failed_safety` are never interruptible whatever this says.
    pub uninterruptible: HashSet<String>,
    /// Waiting for the caller to start speaking after a prompt. Default 7 s.
    pub no_input: Duration,
    /// While a procedure collects details, a pause this long after the caller's last words
    /// ends the dictation (name, then date, then address come as several utterances).
    /// Default 3 s.
    pub dictation_pause: Duration,
    /// Whole call cap: past it the bot says goodbye at the next turn. Default 8 min.
    pub max_call: Duration,
    /// Questions answered per call before the bot closes politely. Default 5.
    pub max_answers: u32,
    /// Turns (utterances + keypad choices) before handing over to an agent. Default 14.
    pub max_turns: u32,
    /// Repeats of one answer. Default 2.
    pub max_repeats: u32,
}

impl Default for DialogueConfig {
    fn default() -> Self {
        DialogueConfig {
            topics: HashMap::new(),
            keypad: Vec::new(),
            keypad_groups: Vec::new(),
            short_answers: HashSet::new(),
            follow_ups: HashSet::new(),
            transfer_choix2: "sip:agents-choix2@127.0.0.1".into(),
            transfer_choix3: "sip:agents-choix3@127.0.0.1".into(),
            uninterruptible: HashSet::from(["urgent_safety".to_string(), "transfer_failed_safety".to_string()]),
            no_input: Duration::from_secs(7),
            dictation_pause: Duration::from_secs(3),
            max_call: Duration::from_secs(8 * 60),
            max_answers: 5,
            max_turns: 14,
            max_repeats: 2,
        }
    }
}

/// One group of the keypad menu's second level (`[keypad_menu_<digit>]` in prompts.toml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeypadGroup {
    /// The first-level digit that opens it.
    pub digit: char,
    /// The prompt that reads its options.
    pub prompt: String,
    /// Digit → topic slug or `@agent`.
    pub options: Vec<(char, String)>,
}

/// Inputs of the state machine. `now` is the time since the call started (monotonic).
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    CallStarted {
        flow: Flow,
        at: DateTime<Utc>,
        open: bool,
        switches: Switches,
        now: Duration,
    },
    /// The endpointer heard the caller begin: suspends the no-input timer.
    SpeechStarted {
        now: Duration,
    },
    /// The endpointer dropped what it heard (too short, noise): restarts the no-input timer.
    SpeechDiscarded {
        now: Duration,
    },
    Utterance {
        text: String,
        understanding: Understanding,
        now: Duration,
    },
    Dtmf {
        digit: char,
        now: Duration,
    },
    BargeIn {
        now: Duration,
    },
    /// The playback `id` (from `Output::Play`) ended or was stopped.
    PlaybackFinished {
        id: u64,
        played_ms: u64,
        total_ms: u64,
        now: Duration,
    },
    /// The recognizer queue is full: the utterance will be late (or dropped if `dropped`).
    AsrOverloaded {
        dropped: bool,
        now: Duration,
    },
    TransferResult {
        accepted: bool,
        now: Duration,
    },
    Hangup {
        now: Duration,
    },
    Tick {
        now: Duration,
    },
}

/// One piece of pre-rendered audio. `key()` names its file in the render manifest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Audio {
    Prompt(String),
    /// Part `index` of a prompt with placeholders (split at each `{…}`).
    PromptPart(String, usize),
    Answer(String),
    ShortAnswer(String),
    /// A topic's follow-up suggestion, said after its answer ("pour …, dites …").
    FollowUp(String),
    /// A topic's title, said inside the clarify prompt.
    Title(String),
}

impl Audio {
    pub fn key(&self) -> String {
        match self {
            Audio::Prompt(id) => format!("prompt/{id}"),
            Audio::PromptPart(id, i) => format!("prompt/{id}#{i}"),
            Audio::Answer(slug) => format!("answer/{slug}"),
            Audio::ShortAnswer(slug) => format!("short/{slug}"),
            Audio::FollowUp(slug) => format!("follow/{slug}"),
            Audio::Title(slug) => format!("title/{slug}"),
        }
    }
}

/// Why a call is handed to an agent (carried in the REFER header with the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransferReason {
    AgentRequest,
    Keypad0,
    Urgent,
    TopicTransfer,
    RepeatedFailure,
    ProcedureIncomplete,
    TooLong,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TransferRequest {
    pub flow: Flow,
    pub target: String,
    pub reason: TransferReason,
    pub topic: Option<String>,
    /// The caller's last utterances, newest last, at most ~200 characters.
    pub transcript: String,
    /// The bot's steps ("greeting", "ask", "answer:slug", "none", "keypad"…).
    pub path: Vec<String>,
}

/// What a procedure collected (CCTP: attestation de non-paiement, call-back request).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProcedureRecord {
    pub kind: ProcedureKind,
    /// What the caller said (name, address, reason…).
    pub transcript: String,
    /// Digits keyed (a number to call back, a postal code), without the final '#'.
    pub digits: String,
    /// The matcher's intent for the caller's words that led to the procedure (`@none` or
    /// `@agent` for a call-back asked in words the catalogue does not know), not for the
    /// details dictated afterwards. The presented number is never part of a request.
    pub topic: Option<String>,
    pub complete: bool,
}

/// How the call left the dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    CallerHungUp,
    BotHungUp,
    Transferred,
}

/// Events for the SC3.2 store and the logs (maps 1:1 onto the accounting events).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DialogueEvent {
    Question {
        transcript: String,
        intent: String,
        score: f32,
        action: String,
    },
    /// `answer` is the topic slug when the audio was a topic answer (heard ratio counts those).
    Played {
        key: String,
        answer: Option<String>,
        played_ms: u64,
        total_ms: u64,
    },
    BargeIn {
        key: String,
    },
    Dtmf {
        digit: char,
    },
    Transfer {
        target: String,
        reason: TransferReason,
        topic: Option<String>,
    },
    TransferFailed,
    Procedure(ProcedureRecord),
    Ended {
        reason: EndReason,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Start this audio now, replacing whatever plays (the shell reports each `id`'s end).
    Play {
        id: u64,
        audio: Audio,
        interruptible: bool,
    },
    StopPlayback,
    /// Listen to the caller (and the keypad) in this context from now on.
    Listen {
        context: ListenContext,
    },
    Transfer(TransferRequest),
    Hangup,
    Event(DialogueEvent),
}
