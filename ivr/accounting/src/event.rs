//! What a call emits while it runs. Events are facts with a time; the record of a call is
//! the fold of its events (see `record.rs`), and the SC3.2 outcome is computed from records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which choice of the 3230 menu brought the caller here (the dialogue's type, one for the
/// whole workspace; serialized as "2" / "3").
pub use ivr_dialogue::policy::Flow;

/// Who the caller is, as far as accounting may know: a same-day pseudonym, or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Caller {
    /// Hex HMAC-SHA256 of the E.164 number under the key of the call's day (see `pseudonym.rs`).
    Pseudonym(String),
    /// Number withheld or anonymous: counted apart, reiteration cannot be checked.
    Withheld,
}

/// What was played: a system prompt (greeting, clarify…) or the answer to a topic.
/// Only topic answers count for the heard ratio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "name")]
pub enum Playback {
    Prompt(String),
    Answer(String),
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// The caller hung up (BYE or CANCEL from the caller's side).
    Caller,
    /// The bot hung up after its goodbye.
    Bot,
    /// The call left the bot by a transfer (REFER accepted).
    Transfer,
    /// The line died (RTP timeout, network error).
    Network,
    /// The end was never observed: the process died mid-call. Rebuilt from the stored events.
    Lost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum EventKind {
    /// The INVITE was accepted for handling (before the 200 OK).
    Started {
        flow: Flow,
        caller: Caller,
    },
    /// 200 OK sent and ACKed: the interaction begins.
    Answered,
    /// One recognised question. `transcript` is kept only for the retention period.
    Question {
        transcript: String,
        intent: String,
        score: f32,
    },
    /// A playback finished or was cut. `played_ms` is what the playback engine actually sent.
    Played {
        what: Playback,
        total_ms: u64,
        played_ms: u64,
    },
    /// The caller spoke over a playback and the bot stopped it.
    BargeIn,
    Dtmf {
        digit: char,
    },
    /// The bot handed the call over. `to_agent` is false for transfers that are not to a
    /// human (e.g. another automated service), which do not cost the call its productivity.
    Transfer {
        target: String,
        reason: String,
        to_agent: bool,
    },
    /// The transfer asked by the last `Transfer` did not happen (REFER refused, the
    /// target failed, or no NOTIFY came after the 202): the bot kept the caller.
    TransferFailed,
    Ended {
        by: EndedBy,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub call_id: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    pub fn new(call_id: impl Into<String>, at: DateTime<Utc>, kind: EventKind) -> Event {
        Event { call_id: call_id.into(), at, kind }
    }
}
