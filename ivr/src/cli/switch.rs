//! `ivr switch`: the runtime messages of `ivr serve` (saturation, crisis, exceptional
//! closure). `show` prints them; `set` changes one switch and keeps the others.
//!
//! With a database (`--db-url`, default the service's own) the switches are the shared row
//! every instance reads each second, the same one the supervisors' console sets; the change
//! is written to the audit log as `cli:<login user>`. With `--db-url none` they are the
//! switches file (`--file`) that a service run without a database polls at each call.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use ivr_accounting::chrono::Utc;
use ivr_accounting::{Store, SwitchFlags};
use ivr_dialogue::policy::Switches;
use ivr_dialogue::switches::{describe, SwitchesFile, DEFAULT_PATH};

#[derive(Subcommand, Debug)]
pub enum SwitchCommand {
    /// Print the current switches.
    Show(Target),
    /// Turn one switch on or off: `ivr switch set crisis on`.
    Set(SetArgs),
}

#[derive(Args, Debug)]
pub struct Target {
    /// The database the services share (`sqlite://path` or `postgres://…`); `none`: the
    /// switches file instead, for a service run with `--db-url none`.
    #[arg(long, default_value = ivr_accounting::DEFAULT_DB_URL)]
    pub db_url: String,
    /// The switches file read by `ivr serve --switches` (with `--db-url none` only).
    #[arg(long, default_value = DEFAULT_PATH)]
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    pub name: SwitchName,
    pub state: OnOff,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SwitchName {
    /// The crisis message after the greeting (incident, strike, exceptional event).
    Crisis,
    /// The agents-saturated message after the greeting.
    Saturation,
    /// The closed message instead of the conversation (exceptional closure).
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

impl SwitchName {
    fn apply(self, mut s: Switches, on: bool) -> Switches {
        match self {
            SwitchName::Crisis => s.crisis = on,
            SwitchName::Saturation => s.saturation = on,
            SwitchName::Closed => s.closed = on,
        }
        s
    }
}

pub fn run(cmd: SwitchCommand) -> anyhow::Result<()> {
    let target = match &cmd {
        SwitchCommand::Show(t) => t,
        SwitchCommand::Set(a) => &a.target,
    };
    if target.db_url == "none" {
        return run_file(cmd);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(run_db(cmd))
}

fn run_file(cmd: SwitchCommand) -> anyhow::Result<()> {
    match cmd {
        SwitchCommand::Show(t) => {
            let mut file = SwitchesFile::new(&t.file);
            let s = file.poll().context("the switches file is not usable (fix it or use `ivr switch set`)")?;
            print!("{}", show_file(&file, s));
        }
        SwitchCommand::Set(a) => {
            let mut file = SwitchesFile::new(&a.target.file);
            // The other switches are kept: a file that does not parse is not overwritten,
            // as its intended state is unknown.
            let before = file.poll().context("the switches file is not usable: fix or remove it before `set`")?;
            let after = a.name.apply(before, a.state == OnOff::On);
            file.write(after)?;
            print!("{}", show_file(&file, after));
        }
    }
    Ok(())
}

fn actor() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "?".into());
    format!("cli:{user}")
}

fn to_switches(f: SwitchFlags) -> Switches {
    Switches { saturation: f.saturation, crisis: f.crisis, closed: f.closed }
}

async fn run_db(cmd: SwitchCommand) -> anyhow::Result<()> {
    let url = match &cmd {
        SwitchCommand::Show(t) => t.db_url.clone(),
        SwitchCommand::Set(a) => a.target.db_url.clone(),
    };
    let store = Store::connect(&url).await.with_context(|| format!("opening the database {}", super::report::redact(&url)))?;
    let state = store.switch_state().await?;
    let out = match cmd {
        SwitchCommand::Show(_) => show_db(&url, to_switches(state.flags), state.set_by.as_deref()),
        SwitchCommand::Set(a) => {
            let after = a.name.apply(to_switches(state.flags), a.state == OnOff::On);
            let flags = SwitchFlags { saturation: after.saturation, crisis: after.crisis, closed: after.closed };
            let by = actor();
            let now = Utc::now();
            // Audited first, as from the console: a change that cannot be audited is not made.
            store.audit(now, &by, "switch-set", "switches", &describe(after)).await?;
            store.set_switches(flags, &by, now).await?;
            show_db(&url, after, Some(&by))
        }
    };
    store.close().await;
    print!("{out}");
    Ok(())
}

fn word(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn show_db(url: &str, s: Switches, by: Option<&str>) -> String {
    let by = by.map_or_else(|| " (never set: all off)".to_string(), |b| format!(" (last set by {b})"));
    format!("database: {}{by}\nsaturation: {}\ncrisis: {}\nclosed: {}\n", super::report::redact(url), word(s.saturation), word(s.crisis), word(s.closed))
}

fn show_file(file: &SwitchesFile, s: Switches) -> String {
    let missing = if file.path().exists() { "" } else { " (no file: all off)" };
    format!("file: {}{missing}\nsaturation: {}\ncrisis: {}\nclosed: {}\n", file.path().display(), word(s.saturation), word(s.crisis), word(s.closed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: SwitchCommand,
    }

    #[test]
    fn set_changes_one_switch_and_keeps_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("switches.toml");
        let p = path.to_str().expect("utf-8 temp path");
        for args in [["x", "set", "saturation", "on"], ["x", "set", "closed", "on"], ["x", "set", "saturation", "off"]] {
            let args = args.into_iter().chain(["--db-url", "none", "--file", p]);
            run(Cli::try_parse_from(args).expect("parse").cmd).expect("set");
        }
        let s = SwitchesFile::new(&path).poll().expect("poll");
        assert_eq!(s, Switches { saturation: false, crisis: false, closed: true });
    }

    #[test]
    fn with_a_database_the_shared_row_is_set_and_audited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("ivr.sqlite").display());
        let file = dir.path().join("switches.toml");
        let f = file.to_str().expect("utf-8 temp path");
        for args in [vec!["x", "set", "crisis", "on"], vec!["x", "set", "closed", "on"], vec!["x", "show"]] {
            let args: Vec<&str> = args.into_iter().chain(["--db-url", url.as_str(), "--file", f]).collect();
            run(Cli::try_parse_from(args).expect("parse").cmd).expect("run");
        }
        assert!(!file.exists(), "the file is not written when a database is used");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let store = Store::connect(&url).await.expect("connect");
            let s = store.switch_state().await.expect("state");
            assert_eq!(s.flags, SwitchFlags { saturation: false, crisis: true, closed: true });
            assert!(s.set_by.as_deref().is_some_and(|b| b.starts_with("cli:")));
            let audit = store.audit_entries(10).await.expect("audit");
            assert_eq!(audit.len(), 2);
            assert_eq!((audit[0].action.as_str(), audit[0].detail.as_str()), ("switch-set", "saturation=off crisis=on closed=on"));
        });
    }

    #[test]
    fn bad_name_or_value_is_refused_by_the_parser() {
        let bad_name = Cli::try_parse_from(["x", "set", "crisi", "on"]).err().expect("crisi refused").to_string();
        assert!(bad_name.contains("crisis") && bad_name.contains("saturation"), "lists the names: {bad_name}");
        let bad_value = Cli::try_parse_from(["x", "set", "crisis", "yes"]).err().expect("yes refused").to_string();
        assert!(bad_value.contains("on") && bad_value.contains("off"), "lists the values: {bad_value}");
    }

    #[test]
    fn a_broken_file_is_not_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("switches.toml");
        std::fs::write(&path, "crisis = tru").expect("write");
        let p = path.to_str().expect("utf-8 temp path");
        let err = run(Cli::try_parse_from(["x", "set", "closed", "on", "--db-url", "none", "--file", p]).expect("parse").cmd).expect_err("refused");
        assert!(format!("{err:#}").contains("switches.toml"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "crisis = tru");
    }
}
