//! `ivr requests`: the procedure requests the bot collected (call-back for
//! non-allocataires, attestation de non-paiement), for the contact centre's agents: list,
//! show, mark handled, export (CSV/JSON), purge per retention.
//!
//! What a request holds is personal data: it is printed to the agent's terminal or the
//! export file asked for, never logged.

use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono_tz::Europe::Paris;
use clap::{Subcommand, ValueEnum};
use ivr_accounting::chrono::{DateTime, NaiveDate, TimeZone, Utc};
use ivr_accounting::{AccountingConfig, Request, RequestFilter, RequestKind, RequestStatus, Store};

use super::report::{redact, DbArgs};

#[derive(Subcommand, Debug)]
pub enum RequestsCommand {
    /// Requests, newest first (default: those still to handle).
    List {
        #[arg(long, value_enum, default_value = "new")]
        status: StatusArg,
        #[arg(long, value_parser = kind_parser())]
        kind: Option<RequestKind>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        #[command(flatten)]
        db: DbArgs,
    },
    /// One request in full.
    Show {
        id: i64,
        #[arg(long, value_enum, default_value = "text")]
        format: ShowFormat,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Mark a request handled (its personal fields are purged after the handled retention).
    Done {
        id: i64,
        /// Who handled it (agent name or login); default $USER.
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// All requests of a period (Paris days of creation), for the agents' tools.
    Export {
        #[arg(long)]
        from: Option<NaiveDate>,
        #[arg(long)]
        to: Option<NaiveDate>,
        #[arg(long, value_enum, default_value = "all")]
        status: StatusArg,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Apply the requests' retention now (`[accounting.requests]`: handled_days, max_days).
    Purge {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum StatusArg {
    New,
    Handled,
    Purged,
    All,
}

impl StatusArg {
    fn status(self) -> Option<RequestStatus> {
        match self {
            StatusArg::New => Some(RequestStatus::New),
            StatusArg::Handled => Some(RequestStatus::Handled),
            StatusArg::Purged => Some(RequestStatus::Purged),
            StatusArg::All => None,
        }
    }
}

/// The kinds `RequestKind` itself knows, for clap (help and errors list them).
fn kind_parser() -> impl clap::builder::TypedValueParser<Value = RequestKind> {
    use clap::builder::TypedValueParser;
    let names = [RequestKind::Rappel, RequestKind::AttestationNonPaiement].map(RequestKind::as_str);
    clap::builder::PossibleValuesParser::new(names).try_map(|s: String| RequestKind::parse(&s).ok_or("unknown request kind"))
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ShowFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ExportFormat {
    Csv,
    Json,
}

pub fn run(cmd: RequestsCommand) -> anyhow::Result<()> {
    let db = match &cmd {
        RequestsCommand::List { db, .. }
        | RequestsCommand::Show { db, .. }
        | RequestsCommand::Done { db, .. }
        | RequestsCommand::Export { db, .. }
        | RequestsCommand::Purge { db } => db.clone(),
    };
    let cfg = super::report::config(&db)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let store = Store::connect(&cfg.db_url).await.with_context(|| format!("opening the database {}", redact(&cfg.db_url)))?;
        let res = command(&store, &cfg, cmd).await;
        store.close().await;
        res
    })
}

async fn command(store: &Store, cfg: &AccountingConfig, cmd: RequestsCommand) -> anyhow::Result<()> {
    match cmd {
        RequestsCommand::List { status, kind, limit, format, .. } => {
            let filter = RequestFilter { status: status.status(), kind, limit: Some(limit), ..Default::default() };
            let list = store.requests(&filter).await?;
            match format {
                ListFormat::Table => super::report::emit(&table(&list)),
                ListFormat::Json => super::report::emit(&(serde_json::to_string_pretty(&list)? + "\n")),
            }
        }
        RequestsCommand::Show { id, format, .. } => {
            let Some(r) = store.request(id).await? else { bail!("no request {id}") };
            match format {
                ShowFormat::Text => super::report::emit(&show(&r)),
                ShowFormat::Json => super::report::emit(&(serde_json::to_string_pretty(&r)? + "\n")),
            }
        }
        RequestsCommand::Done { id, by, .. } => {
            let by = by.or_else(|| std::env::var("USER").ok()).filter(|b| !b.trim().is_empty()).unwrap_or_else(|| "agent".into());
            if store.mark_request_handled(id, by.trim(), Utc::now()).await? {
                println!("request {id} handled by {}", by.trim());
                Ok(())
            } else {
                match store.request(id).await? {
                    None => bail!("no request {id}"),
                    Some(r) => bail!("request {id} is {}, not new", r.status.as_str()),
                }
            }
        }
        RequestsCommand::Export { from, to, status, format, out, .. } => {
            let filter = RequestFilter {
                status: status.status(),
                from: from.map(paris_midnight).transpose()?,
                to: to.and_then(|d| d.succ_opt()).map(paris_midnight).transpose()?,
                ..Default::default()
            };
            let mut list = store.requests(&filter).await?;
            list.reverse(); // oldest first in files
            let text = match format {
                ExportFormat::Csv => csv(&list),
                ExportFormat::Json => serde_json::to_string_pretty(&list)? + "\n",
            };
            match out {
                Some(p) => std::fs::write(&p, text).with_context(|| format!("writing {}", p.display())),
                None => super::report::emit(&text),
            }
        }
        RequestsCommand::Purge { .. } => {
            let n = store.purge_requests(cfg.requests, Utc::now()).await?;
            tracing::info!(target: "ivr::accounting::purge", requests_purged = n, handled_days = cfg.requests.handled_days, max_days = cfg.requests.max_days, "requests retention purge done");
            println!("{n} request(s) purged");
            Ok(())
        }
    }
}

fn paris_midnight(d: NaiveDate) -> anyhow::Result<DateTime<Utc>> {
    let local = d.and_hms_opt(0, 0, 0).context("midnight")?;
    // Midnight always exists in Paris (the clocks change at 02:00 and 03:00).
    let t = Paris.from_local_datetime(&local).earliest().context("local midnight")?;
    Ok(t.with_timezone(&Utc))
}

fn local_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Paris).format("%Y-%m-%d %H:%M").to_string()
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.chars().count() > max {
        flat.chars().take(max.saturating_sub(1)).collect::<String>() + "…"
    } else {
        flat
    }
}

fn table(list: &[Request]) -> String {
    let mut out = format!("{:>6}  {:<16}  {:<24}  {:<5}  {:<8}  {:<14}  {}\n", "id", "made (Paris)", "kind", "flow", "status", "keyed", "said");
    for r in list {
        out.push_str(&format!(
            "{:>6}  {:<16}  {:<24}  {:<5}  {:<8}  {:<14}  {}\n",
            r.id,
            local_time(r.created_at),
            r.kind.as_str(),
            r.flow.number(),
            r.status.as_str(),
            one_line(r.keyed.as_deref().unwrap_or("-"), 14),
            one_line(r.transcript.as_deref().unwrap_or("-"), 60),
        ));
    }
    if list.is_empty() {
        out.push_str("(none)\n");
    }
    out
}

fn show(r: &Request) -> String {
    let mut out = String::new();
    out.push_str(&format!("request   {}\n", r.id));
    out.push_str(&format!("kind      {}\n", r.kind.as_str()));
    out.push_str(&format!("status    {}\n", r.status.as_str()));
    out.push_str(&format!("made      {} (Paris)\n", local_time(r.created_at)));
    out.push_str(&format!("flow      choix {}\n", r.flow.number()));
    out.push_str(&format!("topic     {}\n", r.topic.as_deref().unwrap_or("-")));
    out.push_str(&format!("call      {}\n", r.call_id));
    out.push_str(&format!("keyed     {}\n", r.keyed.as_deref().unwrap_or("(purged)")));
    out.push_str(&format!("said      {}\n", r.transcript.as_deref().unwrap_or("(purged)")));
    if let Some(at) = r.handled_at {
        out.push_str(&format!("handled   {} by {}\n", local_time(at), r.handled_by.as_deref().unwrap_or("?")));
    }
    if let Some(at) = r.purged_at {
        out.push_str(&format!("purged    {}\n", local_time(at)));
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(list: &[Request]) -> String {
    let mut out = String::from("id,created_at,kind,flow,status,topic,keyed,transcript,handled_at,handled_by,purged_at,call_id\n");
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for r in list {
        let fields = [
            r.id.to_string(),
            r.created_at.to_rfc3339(),
            r.kind.as_str().to_string(),
            r.flow.number().to_string(),
            r.status.as_str().to_string(),
            r.topic.clone().unwrap_or_default(),
            r.keyed.clone().unwrap_or_default(),
            r.transcript.clone().unwrap_or_default(),
            time(r.handled_at),
            r.handled_by.clone().unwrap_or_default(),
            time(r.purged_at),
            r.call_id.clone(),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("Durand, Paul"), "\"Durand, Paul\"");
        assert_eq!(csv_field("il a dit \"oui\""), "\"il a dit \"\"oui\"\"\"");
    }

    #[test]
    fn times_are_paris_times() {
        let winter = Utc.with_ymd_and_hms(2026, 1, 15, 10, 0, 0).unwrap();
        let summer = Utc.with_ymd_and_hms(2026, 7, 15, 10, 0, 0).unwrap();
        assert_eq!(local_time(winter), "2026-01-15 11:00");
        assert_eq!(local_time(summer), "2026-07-15 12:00");
        let d = NaiveDate::from_ymd_opt(2026, 7, 15).unwrap();
        assert_eq!(paris_midnight(d).unwrap(), Utc.with_ymd_and_hms(2026, 7, 14, 22, 0, 0).unwrap());
    }
}
