//! `ivr report`: SC3.2 figures, raw exports, day close, chain verification and purge.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use ivr_accounting::chrono::{NaiveDate, Utc};
use ivr_accounting::export::{self, ExportFormat};
use ivr_accounting::report::{self, Format, Period};
use ivr_accounting::{days, AccountingConfig, Flow, Store};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: Option<ReportCommand>,
    #[command(flatten)]
    pub figures: FiguresArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// Database URL (sqlite://path or postgres://…); else IVR_DB_URL, the config, or sqlite://data/ivr.sqlite.
    #[arg(long, global = true, alias = "db-url")]
    pub db: Option<String>,
    /// Configuration file whose [accounting] table gives the database and the SC3.2 rule.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct FiguresArgs {
    /// First day (Europe/Paris calendar day of call start), YYYY-MM-DD.
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive.
    #[arg(long)]
    pub to: Option<NaiveDate>,
    #[arg(long, value_enum, default_value = "day")]
    pub by: By,
    /// Only calls of this flow (choix 2 or 3).
    #[arg(long, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub flow: Option<u8>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum By {
    Day,
    Week,
    Month,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ReportFormat {
    Table,
    Csv,
    Xml,
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum RawFormat {
    Csv,
    Xml,
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Raw call records with their SC3.2 outcome (reversibility exports).
    Export {
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
        #[arg(long, value_enum, default_value = "csv")]
        format: RawFormat,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Close a day: lost calls recovered, final outcomes stored (the server does it daily).
    Close {
        #[arg(long)]
        day: NaiveDate,
    },
    /// Check a day's hash chain; exits 1 if a record was edited or deleted.
    Verify {
        #[arg(long)]
        day: NaiveDate,
    },
    /// Apply retention now: transcripts, old records, pseudonym keys of closed days.
    Purge,
}

pub(crate) fn config(db: &DbArgs) -> anyhow::Result<AccountingConfig> {
    let mut cfg = match &db.config {
        Some(p) => AccountingConfig::from_toml_file(p)?,
        None => AccountingConfig::default(),
    };
    if let Some(url) = db.db.clone().or_else(|| std::env::var("IVR_DB_URL").ok().filter(|u| !u.is_empty())) {
        cfg.db_url = url;
    }
    Ok(cfg)
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let cfg = config(&args.db)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let store = Store::connect(&cfg.db_url).await.with_context(|| format!("opening the accounting database {}", redact(&cfg.db_url)))?;
        let res = match args.command {
            None => figures(&store, &cfg, &args.figures).await,
            Some(cmd) => command(&store, &cfg, cmd).await,
        };
        store.close().await;
        res
    })
}

async fn figures(store: &Store, cfg: &AccountingConfig, a: &FiguresArgs) -> anyhow::Result<()> {
    let (Some(from), Some(to)) = (a.from, a.to) else { bail!("--from and --to are required (YYYY-MM-DD)") };
    if to < from {
        bail!("--to is before --from");
    }
    let by = match a.by {
        By::Day => Period::Day,
        By::Week => Period::Week,
        By::Month => Period::Month,
    };
    let format = match a.format {
        ReportFormat::Table => Format::Table,
        ReportFormat::Csv => Format::Csv,
        ReportFormat::Xml => Format::Xml,
        ReportFormat::Json => Format::Json,
    };
    let r = report::build(store, &cfg.sc32, from, to, by, a.flow.and_then(Flow::from_number)).await?;
    emit(&report::render(&r, format))
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
pub(crate) fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

async fn command(store: &Store, cfg: &AccountingConfig, cmd: ReportCommand) -> anyhow::Result<()> {
    match cmd {
        ReportCommand::Export { from, to, format, out } => {
            let f = match format {
                RawFormat::Csv => ExportFormat::Csv,
                RawFormat::Xml => ExportFormat::Xml,
            };
            let text = export::export(store, &cfg.sc32, from, to, f).await?;
            match out {
                Some(p) => std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?,
                None => emit(&text)?,
            }
        }
        ReportCommand::Close { day } => {
            let timeout = std::time::Duration::from_secs(cfg.open_call_timeout_s);
            let s = days::close_day(store, &cfg.sc32, day, Utc::now(), timeout).await?;
            println!("{}", serde_json::to_string(&s)?);
        }
        ReportCommand::Verify { day } => {
            let v = store.verify_day(day).await?;
            if v.ok() {
                println!("{day}: {} record(s), chain intact", v.records);
            } else {
                for p in &v.problems {
                    println!("{day}: {p}");
                }
                bail!("{day}: chain broken ({} problem(s))", v.problems.len());
            }
        }
        ReportCommand::Purge => {
            let s = days::purge(store, cfg, Utc::now()).await?;
            println!("{}", serde_json::to_string(&s)?);
        }
    }
    Ok(())
}

/// Database URLs may carry a password: never print it.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}
