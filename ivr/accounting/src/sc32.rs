//! THE SC3.2 RULE. Every productivity decision of the project is made here and nowhere else.
//!
//! CCTP, unit SC3.2: "an SVI interaction is productive when more than 75 % of the message's
//! duration was heard by the caller, and it is not followed by a transfer to an agent,
//! without reiteration within the day; the unit is measured in productive hours."
//!
//! Reading implemented (each ambiguous point is a field of `Sc32Rule`):
//! 1. heard ratio of an answer = ms actually played ÷ answer length (barge-in and hang-up
//!    cut it). Only topic answers count, never system prompts (greeting, clarify…).
//!    A call needs a heard ratio strictly above `heard_threshold` (default 0.75);
//!    with several answers, `answers` decides (default: at least one answer heard).
//! 2. no transfer to an agent anywhere in the call (a transfer after a fully heard answer
//!    still costs the call its productivity: the caller needed a human).
//! 3. no reiteration: another call from the same pseudonym on the same Europe/Paris
//!    calendar day. `reiteration` decides which calls lose (default: every call that is
//!    followed by another one that day — the last call of the day can still be productive).
//!    Withheld callers cannot be checked; `withheld_productive` decides (default: yes,
//!    and they are counted apart in reports).
//! 4. a call whose end was never observed (process killed mid-call) is never productive.
//! 5. productive hours = Σ interaction durations (answer → end) of productive calls; a call
//!    belongs to the Paris day it started on, even when it spans midnight.
//!
//! Figures of a day are provisional until the day is closed; closing stores each call's
//! outcome together with the rule used, so later rule changes do not rewrite closed days.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::event::{Caller, EndedBy};
use crate::record::CallRecord;

/// How several topic answers in one call combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerAggregation {
    /// At least one answer heard above the threshold.
    AnyHeard,
    /// Every answer heard above the threshold.
    AllHeard,
    /// The last answer of the call is the one that counts.
    LastHeard,
}

/// Which calls of a repeated caller (same pseudonym, same day) lose productivity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReiterationPolicy {
    /// Calls followed by another call that day (all but the last).
    FollowedCallsLose,
    /// Every call of a caller who called more than once that day.
    AllCallsLose,
    /// Reiteration is reported but does not affect productivity.
    Ignore,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sc32Rule {
    pub heard_threshold: f64,
    pub answers: AnswerAggregation,
    pub reiteration: ReiterationPolicy,
    pub withheld_productive: bool,
}

impl Default for Sc32Rule {
    fn default() -> Self {
        Sc32Rule { heard_threshold: 0.75, answers: AnswerAggregation::AnyHeard, reiteration: ReiterationPolicy::FollowedCallsLose, withheld_productive: true }
    }
}

/// Why a call is not productive (empty = productive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Miss {
    NoAnswerHeard,
    TransferredToAgent,
    Reiterated,
    Withheld,
    Lost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub call_id: String,
    pub productive: bool,
    pub misses: Vec<Miss>,
    /// Another call from the same caller followed this one the same day.
    pub reiterated: bool,
    /// Counted in productive hours when productive.
    pub interaction_ms: u64,
}

impl Sc32Rule {
    /// Did the caller hear enough of the call's answers? (criterion 1)
    pub fn answer_heard(&self, rec: &CallRecord) -> bool {
        let ok = |r: f64| r > self.heard_threshold;
        let mut ratios = rec.answers().map(|p| p.heard_ratio()).peekable();
        if ratios.peek().is_none() {
            return false;
        }
        match self.answers {
            AnswerAggregation::AnyHeard => ratios.any(ok),
            AnswerAggregation::AllHeard => ratios.all(ok),
            AnswerAggregation::LastHeard => ratios.last().is_some_and(ok),
        }
    }

    /// Outcomes of all the calls of one Paris day (reiteration needs the whole day).
    /// Returned in the order of `day_calls`.
    pub fn evaluate_day(&self, day_calls: &[CallRecord]) -> Vec<Outcome> {
        // Calls per pseudonym in start order, to find who was followed by whom.
        let mut by_caller: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, r) in day_calls.iter().enumerate() {
            if let Caller::Pseudonym(p) = &r.caller {
                by_caller.entry(p.as_str()).or_default().push(i);
            }
        }
        let mut followed = vec![false; day_calls.len()];
        let mut repeated_caller = vec![false; day_calls.len()];
        for idx in by_caller.values_mut() {
            idx.sort_by_key(|&i| (day_calls[i].started_at, day_calls[i].call_id.as_str()));
            if idx.len() > 1 {
                for &i in idx.iter() {
                    repeated_caller[i] = true;
                }
                for &i in &idx[..idx.len() - 1] {
                    followed[i] = true;
                }
            }
        }
        day_calls
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut misses = Vec::new();
                if r.ended_by == EndedBy::Lost {
                    misses.push(Miss::Lost);
                }
                if !self.answer_heard(r) {
                    misses.push(Miss::NoAnswerHeard);
                }
                if r.transferred_to_agent() {
                    misses.push(Miss::TransferredToAgent);
                }
                let loses = match self.reiteration {
                    ReiterationPolicy::FollowedCallsLose => followed[i],
                    ReiterationPolicy::AllCallsLose => repeated_caller[i],
                    ReiterationPolicy::Ignore => false,
                };
                if loses {
                    misses.push(Miss::Reiterated);
                }
                if r.caller == Caller::Withheld && !self.withheld_productive {
                    misses.push(Miss::Withheld);
                }
                Outcome { call_id: r.call_id.clone(), productive: misses.is_empty(), misses, reiterated: followed[i], interaction_ms: r.interaction_ms() }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Flow, Playback};
    use crate::record::{Play, Transfer};
    use chrono::{DateTime, TimeZone, Utc};

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 4, 8, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }
    fn call(id: &str, caller: Caller, start: i64, heard: &[(u64, u64)]) -> CallRecord {
        CallRecord {
            call_id: id.into(),
            flow: Flow::Choix2,
            caller,
            started_at: t(start),
            answered_at: Some(t(start)),
            ended_at: t(start + 60),
            ended_by: EndedBy::Bot,
            questions: vec![],
            plays: heard
                .iter()
                .map(|&(p, tot)| Play { at: t(start), what: Playback::Answer("x".into()), total_ms: tot, played_ms: p, barged_in: false })
                .collect(),
            dtmf: vec![],
            barge_ins: vec![],
            transfer: None,
        }
    }

    #[test]
    fn threshold_is_strict_and_configurable() {
        let rule = Sc32Rule::default();
        assert!(!rule.answer_heard(&call("a", Caller::Withheld, 0, &[(750, 1000)])));
        assert!(rule.answer_heard(&call("a", Caller::Withheld, 0, &[(751, 1000)])));
        assert!(!rule.answer_heard(&call("a", Caller::Withheld, 0, &[])));
        let lax = Sc32Rule { heard_threshold: 0.5, ..Sc32Rule::default() };
        assert!(lax.answer_heard(&call("a", Caller::Withheld, 0, &[(600, 1000)])));
    }

    #[test]
    fn several_answers_follow_the_aggregation() {
        let c = call("a", Caller::Withheld, 0, &[(1000, 1000), (100, 1000)]);
        let mut rule = Sc32Rule::default();
        assert!(rule.answer_heard(&c));
        rule.answers = AnswerAggregation::AllHeard;
        assert!(!rule.answer_heard(&c));
        rule.answers = AnswerAggregation::LastHeard;
        assert!(!rule.answer_heard(&c));
    }

    #[test]
    fn reiteration_policies() {
        let p = || Caller::Pseudonym("p1".into());
        let day = vec![call("late", p(), 100, &[(1, 1)]), call("early", p(), 0, &[(1, 1)])];
        let out = Sc32Rule::default().evaluate_day(&day);
        assert!(out[0].productive, "the last call of the day stays productive");
        assert!(!out[1].productive && out[1].misses == vec![Miss::Reiterated]);
        let all = Sc32Rule { reiteration: ReiterationPolicy::AllCallsLose, ..Sc32Rule::default() };
        assert!(all.evaluate_day(&day).iter().all(|o| !o.productive));
        let ign = Sc32Rule { reiteration: ReiterationPolicy::Ignore, ..Sc32Rule::default() };
        assert!(ign.evaluate_day(&day).iter().all(|o| o.productive));
    }

    #[test]
    fn transfer_and_withheld() {
        let mut c = call("a", Caller::Withheld, 0, &[(1000, 1000)]);
        assert!(Sc32Rule::default().evaluate_day(std::slice::from_ref(&c))[0].productive);
        let strict = Sc32Rule { withheld_productive: false, ..Sc32Rule::default() };
        assert_eq!(strict.evaluate_day(std::slice::from_ref(&c))[0].misses, vec![Miss::Withheld]);
        c.transfer = Some(Transfer { at: t(50), target: "sip:agent".into(), reason: "x".into(), to_agent: true, failed: false });
        assert_eq!(Sc32Rule::default().evaluate_day(std::slice::from_ref(&c))[0].misses, vec![Miss::TransferredToAgent]);
        // A transfer that did not happen (refused, failed, no NOTIFY) keeps the call with
        // the bot: the answer it heard still counts.
        if let Some(t) = &mut c.transfer {
            t.failed = true;
        }
        assert!(Sc32Rule::default().evaluate_day(&[c])[0].productive);
    }
}
