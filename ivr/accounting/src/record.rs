//! The record of one call: the fold of its events. This is what is stored (hash-chained) and
//! what the SC3.2 rule reads.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{Caller, EndedBy, Event, EventKind, Flow, Playback};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    pub at: DateTime<Utc>,
    /// None once purged (retention) or when loaded without transcripts.
    pub transcript: Option<String>,
    pub intent: String,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Play {
    pub at: DateTime<Utc>,
    pub what: Playback,
    pub total_ms: u64,
    pub played_ms: u64,
    /// A barge-in was reported while this playback was running.
    pub barged_in: bool,
}

impl Play {
    /// Fraction of the playback the caller heard, in [0, 1].
    pub fn heard_ratio(&self) -> f64 {
        if self.total_ms == 0 {
            return 0.0;
        }
        (self.played_ms.min(self.total_ms)) as f64 / self.total_ms as f64
    }
    pub fn topic(&self) -> Option<&str> {
        match &self.what {
            Playback::Answer(t) => Some(t),
            Playback::Prompt(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    pub at: DateTime<Utc>,
    pub target: String,
    pub reason: String,
    pub to_agent: bool,
    /// The transfer did not happen (refused, failed, no NOTIFY): the caller stayed
    /// with the bot, so it does not count as handed to an agent.
    #[serde(default)]
    pub failed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub call_id: String,
    pub flow: Flow,
    pub caller: Caller,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    pub ended_by: EndedBy,
    pub questions: Vec<Question>,
    pub plays: Vec<Play>,
    pub dtmf: Vec<(DateTime<Utc>, char)>,
    pub barge_ins: Vec<DateTime<Utc>>,
    pub transfer: Option<Transfer>,
}

impl CallRecord {
    /// Folds a call's events, in the order they were emitted. Requires a `Started` event;
    /// without an `Ended` event the call is closed as `EndedBy::Lost` at its last event
    /// (that is how calls cut by a crash are rebuilt).
    pub fn from_events(events: &[Event]) -> Result<CallRecord> {
        let first = events.first().ok_or(Error::IncompleteCall { call_id: String::new(), why: "no events" })?;
        let call_id = first.call_id.clone();
        let mut start = None;
        let mut rec_answered = None;
        let mut ended = None;
        let mut questions = Vec::new();
        let mut plays: Vec<Play> = Vec::new();
        let mut dtmf = Vec::new();
        let mut barge_ins = Vec::new();
        let mut transfer = None;
        let mut last_at = first.at;
        for e in events {
            last_at = last_at.max(e.at);
            match &e.kind {
                EventKind::Started { flow, caller } => start = Some((e.at, *flow, caller.clone())),
                EventKind::Answered => rec_answered = rec_answered.or(Some(e.at)),
                EventKind::Question { transcript, intent, score } => {
                    questions.push(Question { at: e.at, transcript: Some(transcript.clone()), intent: intent.clone(), score: *score })
                }
                EventKind::Played { what, total_ms, played_ms } => {
                    // The barge-in event arrives before the engine reports the cut playback.
                    let barged_in = barge_ins.last().is_some_and(|b: &DateTime<Utc>| plays.last().is_none_or(|p| p.at <= *b)) && played_ms < total_ms;
                    plays.push(Play { at: e.at, what: what.clone(), total_ms: *total_ms, played_ms: *played_ms, barged_in })
                }
                EventKind::BargeIn => barge_ins.push(e.at),
                EventKind::Dtmf { digit } => dtmf.push((e.at, *digit)),
                EventKind::Transfer { target, reason, to_agent } => {
                    transfer = Some(Transfer { at: e.at, target: target.clone(), reason: reason.clone(), to_agent: *to_agent, failed: false })
                }
                EventKind::TransferFailed => {
                    if let Some(t) = &mut transfer {
                        t.failed = true;
                    }
                }
                EventKind::Ended { by } => ended = Some((e.at, *by)),
            }
        }
        let (started_at, flow, caller) = start.ok_or(Error::IncompleteCall { call_id: call_id.clone(), why: "no Started event" })?;
        let (ended_at, ended_by) = ended.unwrap_or((last_at, EndedBy::Lost));
        Ok(CallRecord { call_id, flow, caller, started_at, answered_at: rec_answered, ended_at, ended_by, questions, plays, dtmf, barge_ins, transfer })
    }

    /// The accounting day of the call: the Europe/Paris calendar day it started. A call that
    /// spans midnight belongs entirely to the day it started.
    pub fn day(&self) -> NaiveDate {
        paris_day(self.started_at)
    }

    /// Duration of the interaction with the bot: from answer to end (0 if never answered).
    pub fn interaction_ms(&self) -> u64 {
        match self.answered_at {
            Some(a) => (self.ended_at - a).num_milliseconds().max(0) as u64,
            None => 0,
        }
    }

    pub fn answers(&self) -> impl Iterator<Item = &Play> {
        self.plays.iter().filter(|p| p.topic().is_some())
    }

    pub fn transferred_to_agent(&self) -> bool {
        self.transfer.as_ref().is_some_and(|t| t.to_agent && !t.failed)
    }
}

/// The Europe/Paris calendar day of an instant.
pub fn paris_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&chrono_tz::Europe::Paris).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap_or_default()
    }

    #[test]
    fn folds_events_and_marks_barge_in_on_the_cut_answer() {
        let id = "c1";
        let ev = vec![
            Event::new(id, at(0), EventKind::Started { flow: Flow::Choix2, caller: Caller::Withheld }),
            Event::new(id, at(1), EventKind::Answered),
            Event::new(id, at(2), EventKind::Played { what: Playback::Prompt("greeting".into()), total_ms: 3000, played_ms: 3000 }),
            Event::new(id, at(8), EventKind::Question { transcript: "mon rsa".into(), intent: "rsa".into(), score: 0.9 }),
            Event::new(id, at(15), EventKind::BargeIn),
            Event::new(id, at(15), EventKind::Played { what: Playback::Answer("rsa".into()), total_ms: 10_000, played_ms: 5_000 }),
            Event::new(id, at(20), EventKind::Ended { by: EndedBy::Caller }),
        ];
        let r = CallRecord::from_events(&ev).unwrap();
        assert_eq!(r.plays.len(), 2);
        assert!(!r.plays[0].barged_in);
        assert!(r.plays[1].barged_in);
        assert_eq!(r.plays[1].heard_ratio(), 0.5);
        assert_eq!(r.interaction_ms(), 19_000);
        assert_eq!(r.ended_by, EndedBy::Caller);
    }

    #[test]
    fn missing_end_is_a_lost_call_and_missing_start_is_an_error() {
        let ev = vec![
            Event::new("c", at(0), EventKind::Started { flow: Flow::Choix3, caller: Caller::Withheld }),
            Event::new("c", at(1), EventKind::Answered),
            Event::new("c", at(9), EventKind::Dtmf { digit: '1' }),
        ];
        let r = CallRecord::from_events(&ev).unwrap();
        assert_eq!(r.ended_by, EndedBy::Lost);
        assert_eq!(r.ended_at, at(9));
        assert!(CallRecord::from_events(&ev[1..]).is_err());
    }

    #[test]
    fn day_is_the_paris_day_of_the_start() {
        // 2026-03-28 23:30 UTC is already 2026-03-29 00:30 in Paris (UTC+1 in March before DST).
        let t = Utc.with_ymd_and_hms(2026, 3, 28, 23, 30, 0).unwrap();
        assert_eq!(paris_day(t), NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
        let t = Utc.with_ymd_and_hms(2026, 7, 1, 21, 59, 0).unwrap();
        assert_eq!(paris_day(t), NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
    }

    #[test]
    fn a_transfer_that_failed_is_not_a_hand_over_to_an_agent() {
        let id = "t1";
        let started = EventKind::Started { flow: Flow::Choix2, caller: Caller::Withheld };
        let transfer = EventKind::Transfer { target: "sip:agents".into(), reason: "keypad-0".into(), to_agent: true };
        let mut ev = vec![Event::new(id, at(0), started), Event::new(id, at(1), EventKind::Answered), Event::new(id, at(5), transfer)];
        ev.push(Event::new(id, at(30), EventKind::Ended { by: EndedBy::Transfer }));
        assert!(CallRecord::from_events(&ev).unwrap().transferred_to_agent());
        ev.insert(3, Event::new(id, at(16), EventKind::TransferFailed));
        ev[4] = Event::new(id, at(30), EventKind::Ended { by: EndedBy::Bot });
        let r = CallRecord::from_events(&ev).unwrap();
        assert!(!r.transferred_to_agent());
        assert!(r.transfer.is_some_and(|t| t.failed && t.to_agent), "the attempt stays on record");
    }
}
