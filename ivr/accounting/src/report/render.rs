//! Report output: an aligned text table for people, CSV / XML / JSON for machines.

use std::fmt::Write as _;

use super::{PeriodFigures, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Xml,
    Json,
}

pub fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Table => table(r),
        Format::Csv => csv(r),
        Format::Xml => xml(r),
        // Serialising plain structs of numbers and strings cannot fail.
        Format::Json => serde_json::to_string_pretty(r).unwrap_or_default(),
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_default()
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1} %", x * 100.0)).unwrap_or_else(|| "-".into())
}

const PERIOD_COLS: [&str; 18] = [
    "period",
    "final",
    "calls",
    "answered",
    "withheld",
    "answered_by_bot",
    "transferred",
    "abandoned",
    "lost",
    "productive",
    "productive_withheld",
    "productive_hours",
    "deflection_rate",
    "reiteration_rate",
    "avg_heard_ratio",
    "transfer_reasons",
    "first_day",
    "last_day",
];

fn period_values(p: &PeriodFigures) -> Vec<String> {
    let reasons = p.transfer_reasons.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";");
    vec![
        p.period.clone(),
        p.is_final.to_string(),
        p.calls.to_string(),
        p.answered.to_string(),
        p.withheld_calls.to_string(),
        p.answered_by_bot.to_string(),
        p.transferred.to_string(),
        p.abandoned.to_string(),
        p.lost.to_string(),
        p.productive.to_string(),
        p.productive_withheld.to_string(),
        format!("{:.4}", p.productive_hours),
        opt(p.deflection_rate, 4),
        opt(p.reiteration_rate, 4),
        opt(p.avg_heard_ratio, 4),
        reasons,
        p.first_day.to_string(),
        p.last_day.to_string(),
    ]
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub(crate) fn csv_line(fields: &[String]) -> String {
    let mut l = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    l.push('\n');
    l
}

/// One table: period rows (topic empty) then, for each period, its topic rows, which fill
/// the topic columns only.
fn csv(r: &Report) -> String {
    let mut head: Vec<String> = PERIOD_COLS.iter().map(|s| s.to_string()).collect();
    head.extend(
        ["topic", "topic_calls", "topic_answers", "topic_avg_heard_ratio", "topic_transfer_after_answer_rate", "topic_hangup_during_answer_rate"]
            .map(String::from),
    );
    let mut out = csv_line(&head);
    for p in r.periods.iter().chain(std::iter::once(&r.total)) {
        let mut v = period_values(p);
        v.extend(std::iter::repeat_n(String::new(), 6));
        out += &csv_line(&v);
        for t in &p.topics {
            let mut v = vec![String::new(); PERIOD_COLS.len()];
            v[0] = p.period.clone();
            v[1] = p.is_final.to_string();
            v.extend([
                t.topic.clone(),
                t.calls.to_string(),
                t.answers.to_string(),
                opt(t.avg_heard_ratio, 4),
                opt(t.transfer_after_answer_rate, 4),
                opt(t.hangup_during_answer_rate, 4),
            ]);
            out += &csv_line(&v);
        }
    }
    out
}

pub(crate) fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => o.push(c),
        }
    }
    o
}

fn xml(r: &Report) -> String {
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let flow = r.flow.map(|f| format!(" flow=\"{}\"", f.number())).unwrap_or_default();
    let _ = writeln!(o, "<sc32-report from=\"{}\" to=\"{}\" by=\"{:?}\"{flow} heard-threshold=\"{}\">", r.from, r.to, r.by, r.rule.heard_threshold);
    for p in r.periods.iter().chain(std::iter::once(&r.total)) {
        let tag = if std::ptr::eq(p, &r.total) { "total" } else { "period" };
        let _ = writeln!(o, "  <{tag}>");
        for (k, v) in PERIOD_COLS.iter().zip(period_values(p)) {
            if *k == "transfer_reasons" {
                continue;
            }
            let _ = writeln!(o, "    <{k}>{}</{k}>", xml_escape(&v));
        }
        o += "    <transfer_reasons>\n";
        for (k, v) in &p.transfer_reasons {
            let _ = writeln!(o, "      <reason name=\"{}\">{v}</reason>", xml_escape(k));
        }
        o += "    </transfer_reasons>\n    <topics>\n";
        for t in &p.topics {
            let _ = writeln!(
                o,
                "      <topic name=\"{}\" calls=\"{}\" answers=\"{}\" avg_heard_ratio=\"{}\" transfer_after_answer_rate=\"{}\" hangup_during_answer_rate=\"{}\"/>",
                xml_escape(&t.topic),
                t.calls,
                t.answers,
                opt(t.avg_heard_ratio, 4),
                opt(t.transfer_after_answer_rate, 4),
                opt(t.hangup_during_answer_rate, 4)
            );
        }
        let _ = writeln!(o, "    </topics>\n  </{tag}>");
    }
    o += "</sc32-report>\n";
    o
}

fn table(r: &Report) -> String {
    let mut o = String::new();
    let flow = r.flow.map(|f| format!(", choix {}", f.number())).unwrap_or_default();
    let _ = writeln!(o, "SC3.2 report {} .. {} by {:?}{flow} (heard > {:.0} %)", r.from, r.to, r.by, r.rule.heard_threshold * 100.0);
    let cols =
        ["period", "status", "calls", "answered", "bot_ans", "transf", "aband", "lost", "withheld", "product", "prod_h", "deflect", "reiter", "avg_heard"];
    let mut rows: Vec<Vec<String>> = vec![cols.iter().map(|s| s.to_string()).collect()];
    for p in r.periods.iter().chain(std::iter::once(&r.total)) {
        rows.push(vec![
            p.period.clone(),
            if p.is_final { "final" } else { "provisional" }.into(),
            p.calls.to_string(),
            p.answered.to_string(),
            p.answered_by_bot.to_string(),
            p.transferred.to_string(),
            p.abandoned.to_string(),
            p.lost.to_string(),
            format!("{} ({} prod)", p.withheld_calls, p.productive_withheld),
            p.productive.to_string(),
            format!("{:.3}", p.productive_hours),
            pct(p.deflection_rate),
            pct(p.reiteration_rate),
            pct(p.avg_heard_ratio),
        ]);
    }
    o += &align(&rows);
    let t = &r.total;
    if !t.transfer_reasons.is_empty() {
        o += "\nTransfer reasons:\n";
        for (k, v) in &t.transfer_reasons {
            let _ = writeln!(o, "  {k}: {v}");
        }
    }
    if !t.topics.is_empty() {
        o += "\nPer topic (whole range):\n";
        let mut rows = vec![["topic", "calls", "answers", "avg_heard", "transfer_after", "hangup_during"].map(String::from).to_vec()];
        for tp in &t.topics {
            rows.push(vec![
                tp.topic.clone(),
                tp.calls.to_string(),
                tp.answers.to_string(),
                pct(tp.avg_heard_ratio),
                pct(tp.transfer_after_answer_rate),
                pct(tp.hangup_during_answer_rate),
            ]);
        }
        o += &align(&rows);
    }
    o
}

fn align(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n).map(|i| rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0)).collect();
    let mut o = String::new();
    for r in rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        o += line.join("  ").trim_end();
        o.push('\n');
    }
    o
}
