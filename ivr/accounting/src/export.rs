//! Raw exports of call records (reversibility clause): CSV with one line per call (lists as
//! JSON cells) and XML with every field nested. Both carry the SC3.2 outcome of each call.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::event::{Caller, Playback};
use crate::record::CallRecord;
use crate::report::render_helpers::{csv_line, xml_escape};
use crate::sc32::{Outcome, Sc32Rule};
use crate::store::Store;
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xml,
}

/// Records of `from..=to` with their outcome (final when the day is closed) and whether it is final.
pub(crate) async fn load(store: &Store, rule: &Sc32Rule, from: NaiveDate, to: NaiveDate) -> Result<Vec<(CallRecord, Outcome, bool)>> {
    let records = store.records(from, to, true).await?;
    let closed: HashMap<String, Outcome> = store.closed_days(from, to).await?.into_iter().flat_map(|c| c.outcomes).map(|o| (o.call_id.clone(), o)).collect();
    let mut out = Vec::with_capacity(records.len());
    let mut i = 0;
    while i < records.len() {
        let day = records[i].day();
        let j = records[i..].iter().position(|r| r.day() != day).map_or(records.len(), |k| i + k);
        let provisional = rule.evaluate_day(&records[i..j]);
        for (r, o) in records[i..j].iter().zip(provisional) {
            match closed.get(&r.call_id) {
                Some(f) => out.push((r.clone(), f.clone(), true)),
                None => out.push((r.clone(), o, false)),
            }
        }
        i = j;
    }
    Ok(out)
}

pub async fn export(store: &Store, rule: &Sc32Rule, from: NaiveDate, to: NaiveDate, format: ExportFormat) -> Result<String> {
    let rows = load(store, rule, from, to).await?;
    Ok(match format {
        ExportFormat::Csv => csv(&rows)?,
        ExportFormat::Xml => xml(&rows),
    })
}

fn caller(c: &Caller) -> String {
    match c {
        Caller::Pseudonym(p) => p.clone(),
        Caller::Withheld => "withheld".into(),
    }
}

fn csv(rows: &[(CallRecord, Outcome, bool)]) -> Result<String> {
    let head = [
        "call_id",
        "day",
        "flow",
        "caller",
        "started_at",
        "answered_at",
        "ended_at",
        "ended_by",
        "interaction_ms",
        "transfer_at",
        "transfer_target",
        "transfer_reason",
        "transfer_to_agent",
        "transfer_failed",
        "questions",
        "plays",
        "dtmf",
        "barge_ins",
        "productive",
        "final",
        "misses",
    ];
    let mut out = csv_line(&head.map(String::from));
    for (r, o, fin) in rows {
        let t = r.transfer.as_ref();
        out += &csv_line(&[
            r.call_id.clone(),
            r.day().to_string(),
            r.flow.number().to_string(),
            caller(&r.caller),
            r.started_at.to_rfc3339(),
            r.answered_at.map(|a| a.to_rfc3339()).unwrap_or_default(),
            r.ended_at.to_rfc3339(),
            serde_json::to_value(r.ended_by)?.as_str().unwrap_or_default().to_string(),
            r.interaction_ms().to_string(),
            t.map(|t| t.at.to_rfc3339()).unwrap_or_default(),
            t.map(|t| t.target.clone()).unwrap_or_default(),
            t.map(|t| t.reason.clone()).unwrap_or_default(),
            t.map(|t| t.to_agent.to_string()).unwrap_or_default(),
            t.map(|t| t.failed.to_string()).unwrap_or_default(),
            serde_json::to_string(&r.questions)?,
            serde_json::to_string(&r.plays)?,
            serde_json::to_string(&r.dtmf)?,
            serde_json::to_string(&r.barge_ins)?,
            o.productive.to_string(),
            fin.to_string(),
            serde_json::to_string(&o.misses)?,
        ]);
    }
    Ok(out)
}

fn xml(rows: &[(CallRecord, Outcome, bool)]) -> String {
    let e = xml_escape;
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<calls>\n");
    for (r, out, fin) in rows {
        let _ = writeln!(
            o,
            "  <call id=\"{}\" day=\"{}\" flow=\"{}\" caller=\"{}\" started_at=\"{}\" answered_at=\"{}\" ended_at=\"{}\" ended_by=\"{}\" interaction_ms=\"{}\">",
            e(&r.call_id),
            r.day(),
            r.flow.number(),
            e(&caller(&r.caller)),
            r.started_at.to_rfc3339(),
            r.answered_at.map(|a| a.to_rfc3339()).unwrap_or_default(),
            r.ended_at.to_rfc3339(),
            serde_json::to_value(r.ended_by).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            r.interaction_ms()
        );
        for q in &r.questions {
            let _ = writeln!(
                o,
                "    <question at=\"{}\" intent=\"{}\" score=\"{}\">{}</question>",
                q.at.to_rfc3339(),
                e(&q.intent),
                q.score,
                e(q.transcript.as_deref().unwrap_or(""))
            );
        }
        for p in &r.plays {
            let (kind, name) = match &p.what {
                Playback::Prompt(n) => ("prompt", n),
                Playback::Answer(n) => ("answer", n),
            };
            let _ = writeln!(
                o,
                "    <play at=\"{}\" kind=\"{kind}\" name=\"{}\" total_ms=\"{}\" played_ms=\"{}\" barged_in=\"{}\"/>",
                p.at.to_rfc3339(),
                e(name),
                p.total_ms,
                p.played_ms,
                p.barged_in
            );
        }
        for (at, d) in &r.dtmf {
            let _ = writeln!(o, "    <dtmf at=\"{}\" digit=\"{}\"/>", at.to_rfc3339(), e(&d.to_string()));
        }
        for at in &r.barge_ins {
            let _ = writeln!(o, "    <barge_in at=\"{}\"/>", at.to_rfc3339());
        }
        if let Some(t) = &r.transfer {
            let _ = writeln!(
                o,
                "    <transfer at=\"{}\" target=\"{}\" reason=\"{}\" to_agent=\"{}\" failed=\"{}\"/>",
                t.at.to_rfc3339(),
                e(&t.target),
                e(&t.reason),
                t.to_agent,
                t.failed
            );
        }
        let misses: Vec<String> = out.misses.iter().filter_map(|m| serde_json::to_value(m).ok()?.as_str().map(String::from)).collect();
        let _ = writeln!(o, "    <sc32 productive=\"{}\" final=\"{fin}\" misses=\"{}\"/>\n  </call>", out.productive, misses.join(" "));
    }
    o += "</calls>\n";
    o
}
