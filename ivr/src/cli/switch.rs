//! `ivr switch`: the runtime messages of `ivr serve` (saturation, crisis, exceptional
//! closure). `show` prints the switches file; `set` changes one switch, keeps the others and
//! replaces the file atomically. Calls that start afterwards hear the new state.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use ivr_dialogue::policy::Switches;
use ivr_dialogue::switches::{SwitchesFile, DEFAULT_PATH};

#[derive(Subcommand, Debug)]
pub enum SwitchCommand {
    /// Print the current switches.
    Show(FileArg),
    /// Turn one switch on or off: `ivr switch set crisis on`.
    Set(SetArgs),
}

#[derive(Args, Debug)]
pub struct FileArg {
    /// The switches file read by `ivr serve --switches`.
    #[arg(long, default_value = DEFAULT_PATH)]
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    pub name: SwitchName,
    pub state: OnOff,
    #[command(flatten)]
    pub file: FileArg,
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
    match cmd {
        SwitchCommand::Show(f) => {
            let mut file = SwitchesFile::new(&f.file);
            let s = file.poll().context("the switches file is not usable (fix it or use `ivr switch set`)")?;
            print!("{}", show(&file, s));
        }
        SwitchCommand::Set(a) => {
            let mut file = SwitchesFile::new(&a.file.file);
            // The other switches are kept: a file that does not parse is not overwritten,
            // as its intended state is unknown.
            let before = file.poll().context("the switches file is not usable: fix or remove it before `set`")?;
            let after = a.name.apply(before, a.state == OnOff::On);
            file.write(after)?;
            print!("{}", show(&file, after));
        }
    }
    Ok(())
}

fn show(file: &SwitchesFile, s: Switches) -> String {
    let word = |b: bool| if b { "on" } else { "off" };
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
        for args in [["x", "set", "saturation", "on", "--file", p], ["x", "set", "closed", "on", "--file", p], ["x", "set", "saturation", "off", "--file", p]] {
            run(Cli::try_parse_from(args).expect("parse").cmd).expect("set");
        }
        let s = SwitchesFile::new(&path).poll().expect("poll");
        assert_eq!(s, Switches { saturation: false, crisis: false, closed: true });
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
        let err = run(Cli::try_parse_from(["x", "set", "closed", "on", "--file", p]).expect("parse").cmd).expect_err("refused");
        assert!(format!("{err:#}").contains("switches.toml"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "crisis = tru");
    }
}
