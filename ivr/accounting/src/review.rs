//! Call review (quality listening): the calls of a day with their SC3.2 outcome, and one
//! call's timeline, for supervisors in the console.
//!
//! A call is named by a short reference (`YYYYMMDD-xxxxxxxx`: its Paris day and the first
//! hex digits of the SHA-256 of its SIP Call-ID), never by anything that says who called.
//! Ended calls are read from their stored record (the fold of their events, transcripts
//! joined back until the retention purge deletes them); calls whose record is not written
//! yet (in progress, or cut by a crash before the day close) are folded from the events
//! table. Outcomes are those of reports and exports: final for a closed day, computed with
//! the current rule otherwise (see `export::load`).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::event::{EndedBy, Event};
use crate::record::{CallRecord, Question};
use crate::sc32::{Miss, Outcome, Sc32Rule};
use crate::store::{day_text, on_pool, Store};
use crate::Result;

/// Hex digits of the Call-ID's hash in a reference: enough to tell a day's calls apart.
const REF_HASH_DIGITS: usize = 8;

/// The short reference of a call: `YYYYMMDD-` and 8 hex digits of SHA-256(Call-ID).
pub fn call_ref(call_id: &str, day: NaiveDate) -> String {
    let h = hex::encode(Sha256::digest(call_id.as_bytes()));
    format!("{}-{}", day.format("%Y%m%d"), &h[..REF_HASH_DIGITS])
}

/// The day a reference names, if it is well formed.
pub fn ref_day(reference: &str) -> Option<NaiveDate> {
    let (day, hash) = reference.split_once('-')?;
    if hash.len() != REF_HASH_DIGITS || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    NaiveDate::parse_from_str(day, "%Y%m%d").ok()
}

/// One call of a day as the review list shows it.
#[derive(Debug, Clone)]
pub struct ReviewedCall {
    pub reference: String,
    pub record: CallRecord,
    /// None while the call has no record yet (in progress, or lost and the day not closed):
    /// reports do not count it yet either.
    pub outcome: Option<Outcome>,
    /// The outcome is the one stored when the day was closed.
    pub is_final: bool,
}

impl ReviewedCall {
    pub fn in_progress(&self) -> bool {
        self.outcome.is_none()
    }
}

/// The calls of Paris day `day`, in start order: recorded calls first computed as reports do,
/// then calls known only from their events.
pub async fn day_calls(store: &Store, rule: &Sc32Rule, day: NaiveDate) -> Result<Vec<ReviewedCall>> {
    let mut out: Vec<ReviewedCall> = crate::export::load(store, rule, day, day)
        .await?
        .into_iter()
        .map(|(record, outcome, is_final)| ReviewedCall { reference: call_ref(&record.call_id, day), record, outcome: Some(outcome), is_final })
        .collect();
    for events in events_of_day(store, day).await? {
        // A call whose first events were purged or that never started cannot be folded: skip it.
        let Ok(record) = CallRecord::from_events(&events) else { continue };
        if record.day() != day || out.iter().any(|c| c.record.call_id == record.call_id) {
            continue;
        }
        out.push(ReviewedCall { reference: call_ref(&record.call_id, day), record, outcome: None, is_final: false });
    }
    out.sort_by(|a, b| a.record.started_at.cmp(&b.record.started_at).then_with(|| a.reference.cmp(&b.reference)));
    Ok(out)
}

/// The call a reference names, if it is still stored.
pub async fn find_call(store: &Store, rule: &Sc32Rule, reference: &str) -> Result<Option<ReviewedCall>> {
    let Some(day) = ref_day(reference) else { return Ok(None) };
    Ok(day_calls(store, rule, day).await?.into_iter().find(|c| c.reference == reference))
}

/// Events still in the events table of calls that have an event on `day`, grouped per call
/// in the order they were written.
async fn events_of_day(store: &Store, day: NaiveDate) -> Result<Vec<Vec<Event>>> {
    let d = day_text(day);
    let rows: Vec<(String, String)> = on_pool!(&store.pool, p => {
        sqlx::query_as("SELECT call_id, body FROM call_events WHERE call_id IN (SELECT call_id FROM call_events WHERE day = $1) ORDER BY id")
            .bind(&d).fetch_all(p).await?
    });
    let mut order: Vec<String> = Vec::new();
    let mut by_call: HashMap<String, Vec<Event>> = HashMap::new();
    for (call_id, body) in rows {
        let e: Event = serde_json::from_str(&body)?;
        if !by_call.contains_key(&call_id) {
            order.push(call_id.clone());
        }
        by_call.entry(call_id).or_default().push(e);
    }
    Ok(order.into_iter().filter_map(|c| by_call.remove(&c)).collect())
}

/// One line of a call's timeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Started,
    Answered,
    /// A system prompt (`answer` false) or a topic answer finished or cut.
    Played {
        name: String,
        answer: bool,
        total_ms: u64,
        played_ms: u64,
        barged_in: bool,
    },
    /// What the caller said, as recognised. `transcript` None: deleted by retention.
    Question {
        transcript: Option<String>,
        intent: String,
        score: f32,
    },
    BargeIn,
    /// A key was pressed. The digit is not part of the timeline: during a procedure the
    /// service does not record digits, and the menu keys say nothing the outcome does not.
    Key,
    Transfer {
        reason: String,
        to_agent: bool,
        failed: bool,
    },
    Ended {
        by: EndedBy,
    },
}

/// A timeline line: when, relative to the call's start, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub offset_ms: i64,
    pub step: Step,
}

/// The call's timeline in time order (a playback is placed at the moment it ended or was
/// cut, which is when the service reports it).
pub fn timeline(r: &CallRecord) -> Vec<TimelineEntry> {
    let mut steps: Vec<(DateTime<Utc>, Step)> = vec![(r.started_at, Step::Started)];
    if let Some(a) = r.answered_at {
        steps.push((a, Step::Answered));
    }
    for q in &r.questions {
        let Question { at, transcript, intent, score } = q;
        steps.push((*at, Step::Question { transcript: transcript.clone(), intent: intent.clone(), score: *score }));
    }
    for at in &r.barge_ins {
        steps.push((*at, Step::BargeIn));
    }
    for p in &r.plays {
        let (name, answer) = match &p.what {
            crate::event::Playback::Prompt(n) => (n.clone(), false),
            crate::event::Playback::Answer(n) => (n.clone(), true),
        };
        steps.push((p.at, Step::Played { name, answer, total_ms: p.total_ms, played_ms: p.played_ms, barged_in: p.barged_in }));
    }
    for (at, _) in &r.dtmf {
        steps.push((*at, Step::Key));
    }
    if let Some(t) = &r.transfer {
        steps.push((t.at, Step::Transfer { reason: t.reason.clone(), to_agent: t.to_agent, failed: t.failed }));
    }
    steps.push((r.ended_at, Step::Ended { by: r.ended_by }));
    // Stable: at equal times the order above holds (a barge-in before the playback it cut).
    steps.sort_by_key(|(at, _)| *at);
    steps.into_iter().map(|(at, step)| TimelineEntry { at, offset_ms: (at - r.started_at).num_milliseconds(), step }).collect()
}

/// Why a call is or is not productive, in terms of the rule's criteria.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub productive: bool,
    /// The criteria the call failed (empty when productive), from the outcome.
    pub misses: Vec<Miss>,
    /// The best heard ratio among the call's topic answers (None: no answer played).
    pub best_heard_ratio: Option<f64>,
    /// The rule's threshold, for the explanation ("above 75 %").
    pub heard_threshold: f64,
    /// The interaction time counted in productive hours when productive.
    pub interaction_ms: u64,
}

/// The verdict of a reviewed call: its outcome (final or computed, as reports use it) with
/// the figures that explain it.
pub fn verdict(rule: &Sc32Rule, record: &CallRecord, outcome: &Outcome) -> Verdict {
    let best = record.answers().map(|p| p.heard_ratio()).fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    Verdict {
        productive: outcome.productive,
        misses: outcome.misses.clone(),
        best_heard_ratio: best,
        heard_threshold: rule.heard_threshold,
        interaction_ms: outcome.interaction_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Caller, EventKind, Flow, Playback};
    use chrono::TimeZone;

    #[test]
    fn references_round_trip_their_day_and_reject_junk() {
        let day = NaiveDate::from_ymd_opt(2026, 5, 4).unwrap_or_default();
        let r = call_ref("abc@10.0.0.1", day);
        assert!(r.starts_with("20260504-") && r.len() == 17, "{r}");
        assert_eq!(ref_day(&r), Some(day));
        assert_ne!(call_ref("abd@10.0.0.1", day), r);
        for bad in ["", "20260504", "20260504-ABCDEF12", "20260504-abc", "2026-05-04-abcdef12", "20261304-abcdef12"] {
            assert_eq!(ref_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_timeline_orders_a_barge_in_before_the_answer_it_cut() {
        let t = |s: i64| Utc.with_ymd_and_hms(2026, 5, 4, 8, 0, 0).single().unwrap_or_default() + chrono::Duration::seconds(s);
        let ev = vec![
            Event::new("c", t(0), EventKind::Started { flow: Flow::Choix2, caller: Caller::Withheld }),
            Event::new("c", t(1), EventKind::Answered),
            Event::new("c", t(4), EventKind::Question { transcript: "rsa".into(), intent: "rsa".into(), score: 0.8 }),
            Event::new("c", t(9), EventKind::BargeIn),
            Event::new("c", t(9), EventKind::Played { what: Playback::Answer("rsa".into()), total_ms: 8000, played_ms: 4000 }),
            Event::new("c", t(10), EventKind::Dtmf { digit: '0' }),
            Event::new("c", t(12), EventKind::Ended { by: EndedBy::Caller }),
        ];
        let tl = timeline(&CallRecord::from_events(&ev).unwrap_or_else(|e| panic!("{e}")));
        let kinds: Vec<_> = tl.iter().map(|e| std::mem::discriminant(&e.step)).collect();
        assert_eq!(tl.len(), 7);
        assert_eq!(kinds[3], std::mem::discriminant(&Step::BargeIn));
        assert!(matches!(tl[4].step, Step::Played { barged_in: true, played_ms: 4000, .. }));
        assert_eq!(tl[5].step, Step::Key);
        assert_eq!(tl[6].offset_ms, 12_000);
    }
}
