//! Report figures per period (day, ISO week, month), flow and topic, from stored records and
//! SC3.2 outcomes: final ones for closed days, computed with the current rule otherwise.

mod render;
pub(crate) mod render_helpers {
    pub(crate) use super::render::{csv_line, xml_escape};
}

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::event::{Caller, EndedBy, Flow};
use crate::record::CallRecord;
use crate::sc32::{Outcome, Sc32Rule};
use crate::store::Store;
use crate::Result;

pub use render::{render, Format};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    /// Label of the period holding `d`: "2026-05-04", "2026-W19" (ISO week), "2026-05".
    pub fn label(self, d: NaiveDate) -> String {
        match self {
            Period::Day => d.format("%Y-%m-%d").to_string(),
            Period::Week => {
                let w = d.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            Period::Month => d.format("%Y-%m").to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TopicFigures {
    pub topic: String,
    /// Calls in which this topic's answer was played.
    pub calls: u64,
    pub answers: u64,
    pub avg_heard_ratio: Option<f64>,
    /// Share of those calls transferred to an agent after the answer was played.
    pub transfer_after_answer_rate: Option<f64>,
    /// Share of the answers cut by the caller hanging up during them.
    pub hangup_during_answer_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeriodFigures {
    pub period: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// True when every day of the period is closed (and no record arrived after the close).
    #[serde(rename = "final")]
    pub is_final: bool,
    pub calls: u64,
    pub answered: u64,
    pub withheld_calls: u64,
    /// Calls in which at least one topic answer was played.
    pub answered_by_bot: u64,
    pub transferred: u64,
    pub transfer_reasons: BTreeMap<String, u64>,
    /// The caller hung up without a transfer and without hearing an answer (rule threshold).
    pub abandoned: u64,
    /// Calls whose end was never observed (process died mid-call).
    pub lost: u64,
    pub productive: u64,
    pub productive_withheld: u64,
    pub productive_ms: u64,
    pub productive_hours: f64,
    /// productive ÷ calls.
    pub deflection_rate: Option<f64>,
    /// Calls followed by another call of the same caller that day ÷ calls with a known caller.
    pub reiteration_rate: Option<f64>,
    /// Mean heard ratio over all topic answers played.
    pub avg_heard_ratio: Option<f64>,
    pub topics: Vec<TopicFigures>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: Period,
    pub flow: Option<Flow>,
    /// The rule used for days not closed yet (closed days keep theirs).
    pub rule: Sc32Rule,
    pub periods: Vec<PeriodFigures>,
    pub total: PeriodFigures,
}

/// Builds the report for `from..=to`. Reiteration is judged on the whole day, all flows,
/// before the flow filter applies.
pub async fn build(store: &Store, rule: &Sc32Rule, from: NaiveDate, to: NaiveDate, by: Period, flow: Option<Flow>) -> Result<Report> {
    Ok(Loaded::read(store, rule, from, to).await?.report(rule, by, flow))
}

/// The reports of `from..=to` for each of `flows` (None: all flows), from one read of the
/// records: what `build` gives for each, for pages that show all flows and each one.
pub async fn build_flows(store: &Store, rule: &Sc32Rule, from: NaiveDate, to: NaiveDate, by: Period, flows: &[Option<Flow>]) -> Result<Vec<Report>> {
    let loaded = Loaded::read(store, rule, from, to).await?;
    Ok(flows.iter().map(|f| loaded.report(rule, by, *f)).collect())
}

/// The records of a period with their outcome (final for closed days, computed otherwise)
/// and which days are closed: what every report of the period is computed from.
struct Loaded {
    from: NaiveDate,
    to: NaiveDate,
    /// (record, outcome, outcome final?)
    rows: Vec<(CallRecord, Outcome, bool)>,
    closed_days: HashSet<NaiveDate>,
}

impl Loaded {
    async fn read(store: &Store, rule: &Sc32Rule, from: NaiveDate, to: NaiveDate) -> Result<Loaded> {
        let records = store.records(from, to, false).await?;
        let closed: HashMap<NaiveDate, HashMap<String, Outcome>> =
            store.closed_days(from, to).await?.into_iter().map(|c| (c.day, c.outcomes.into_iter().map(|o| (o.call_id.clone(), o)).collect())).collect();
        let mut by_day: BTreeMap<NaiveDate, Vec<CallRecord>> = BTreeMap::new();
        for r in records {
            by_day.entry(r.day()).or_default().push(r);
        }
        let mut rows: Vec<(CallRecord, Outcome, bool)> = Vec::new();
        for (day, recs) in by_day {
            let computed = rule.evaluate_day(&recs);
            let final_day = closed.get(&day);
            for (r, o) in recs.into_iter().zip(computed) {
                let stored = final_day.and_then(|m| m.get(&r.call_id)).cloned();
                // A record added after the close (late write) is provisional until closed again.
                let is_final = stored.is_some();
                rows.push((r, stored.unwrap_or(o), is_final));
            }
        }
        Ok(Loaded { from, to, rows, closed_days: closed.into_keys().collect() })
    }

    fn report(&self, rule: &Sc32Rule, by: Period, flow: Option<Flow>) -> Report {
        let (from, to) = (self.from, self.to);
        // A period is final when every one of its days (within from..=to) is closed, calls or not.
        let mut open_days_of: HashMap<String, bool> = HashMap::new();
        let mut any_open = false;
        for d in from.iter_days().take_while(|d| *d <= to) {
            let open = !self.closed_days.contains(&d);
            *open_days_of.entry(by.label(d)).or_default() |= open;
            any_open |= open;
        }
        let rows: Vec<&(CallRecord, Outcome, bool)> = self.rows.iter().filter(|(r, _, _)| flow.is_none_or(|f| r.flow == f)).collect();
        let mut groups: BTreeMap<String, Vec<&(CallRecord, Outcome, bool)>> = BTreeMap::new();
        for row in &rows {
            groups.entry(by.label(row.0.day())).or_default().push(row);
        }
        let periods = groups
            .iter()
            .map(|(label, g)| {
                let mut f = figures(label, g, rule);
                f.is_final &= !open_days_of.get(label).copied().unwrap_or(true);
                f
            })
            .collect();
        let mut total = figures("total", &rows, rule);
        total.first_day = from;
        total.last_day = to;
        total.is_final &= !any_open;
        Report { from, to, by, flow, rule: rule.clone(), periods, total }
    }
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

#[derive(Default)]
struct TopicAcc {
    calls: u64,
    ratios: Vec<f64>,
    transferred_after: u64,
    hangups: u64,
}

pub(crate) fn figures(label: &str, rows: &[&(CallRecord, Outcome, bool)], rule: &Sc32Rule) -> PeriodFigures {
    let mut f = PeriodFigures {
        period: label.to_string(),
        first_day: rows.iter().map(|r| r.0.day()).min().unwrap_or_default(),
        last_day: rows.iter().map(|r| r.0.day()).max().unwrap_or_default(),
        is_final: rows.iter().all(|r| r.2),
        calls: rows.len() as u64,
        answered: 0,
        withheld_calls: 0,
        answered_by_bot: 0,
        transferred: 0,
        transfer_reasons: BTreeMap::new(),
        abandoned: 0,
        lost: 0,
        productive: 0,
        productive_withheld: 0,
        productive_ms: 0,
        productive_hours: 0.0,
        deflection_rate: None,
        reiteration_rate: None,
        avg_heard_ratio: None,
        topics: Vec::new(),
    };
    let mut ratios = Vec::new();
    let mut reiterated = 0;
    let mut topics: BTreeMap<String, TopicAcc> = BTreeMap::new();
    for (r, o, _) in rows.iter().map(|x| (&x.0, &x.1, x.2)) {
        f.answered += u64::from(r.answered_at.is_some());
        let withheld = r.caller == Caller::Withheld;
        f.withheld_calls += u64::from(withheld);
        f.answered_by_bot += u64::from(r.answers().any(|p| p.played_ms > 0));
        if let Some(t) = r.transfer.as_ref().filter(|t| t.to_agent && !t.failed) {
            f.transferred += 1;
            *f.transfer_reasons.entry(t.reason.clone()).or_default() += 1;
        }
        if r.ended_by == EndedBy::Caller && !r.transferred_to_agent() && !rule.answer_heard(r) {
            f.abandoned += 1;
        }
        f.lost += u64::from(r.ended_by == EndedBy::Lost);
        if o.productive {
            f.productive += 1;
            f.productive_withheld += u64::from(withheld);
            f.productive_ms += o.interaction_ms;
        }
        reiterated += u64::from(o.reiterated);
        let last_play = r.plays.len().checked_sub(1);
        let mut seen_in_call: Vec<&str> = Vec::new();
        for (i, p) in r.plays.iter().enumerate() {
            let Some(topic) = p.topic() else { continue };
            ratios.push(p.heard_ratio());
            let acc = topics.entry(topic.to_string()).or_default();
            acc.ratios.push(p.heard_ratio());
            let hung_up = Some(i) == last_play && r.ended_by == EndedBy::Caller && p.played_ms < p.total_ms && !p.barged_in;
            acc.hangups += u64::from(hung_up);
            if !seen_in_call.contains(&topic) {
                seen_in_call.push(topic);
                acc.calls += 1;
                let after = r.transfer.as_ref().is_some_and(|t| t.to_agent && !t.failed && t.at >= p.at);
                acc.transferred_after += u64::from(after);
            }
        }
    }
    f.productive_hours = f.productive_ms as f64 / 3_600_000.0;
    f.deflection_rate = ratio(f.productive, f.calls);
    f.reiteration_rate = ratio(reiterated, f.calls - f.withheld_calls);
    f.avg_heard_ratio = mean(&ratios);
    f.topics = topics
        .into_iter()
        .map(|(topic, a)| TopicFigures {
            topic,
            calls: a.calls,
            answers: a.ratios.len() as u64,
            avg_heard_ratio: mean(&a.ratios),
            transfer_after_answer_rate: ratio(a.transferred_after, a.calls),
            hangup_during_answer_rate: ratio(a.hangups, a.ratios.len() as u64),
        })
        .collect();
    f
}
