//! `ivr knowledge check`: validates the content files and prints `file:line: reason`
//! (errors, on stdout). On stderr it lists each topic's estimated answer duration and
//! warns, without failing, about answers past 40 s.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;
use nlu::knowledge::{utc_date, KnowledgeBase, Prompts};

#[derive(Subcommand, Debug)]
pub enum KnowledgeCommand {
    /// Check every topic, intent and prompt file; exit 1 when any error is found.
    Check {
        /// Knowledge directory (default: ./knowledge, else the one of the binary's checkout).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Prompt file (default: prompts/prompts.toml beside the knowledge directory).
        #[arg(long)]
        prompts: Option<PathBuf>,
        /// Do not list each topic's answer duration (warnings are still printed).
        #[arg(long)]
        no_durations: bool,
    },
}

/// `./knowledge` when it exists, else the `knowledge/` of the checkout the binary was
/// built in (target/release/ivr → ../../knowledge), so the tools work from anywhere.
pub fn default_knowledge_dir() -> PathBuf {
    let here = PathBuf::from("knowledge");
    if here.join("catalog.tsv").is_file() {
        return here;
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            let candidate = dir.join("knowledge");
            if candidate.join("catalog.tsv").is_file() {
                return candidate;
            }
        }
    }
    here
}

/// Per topic, the answer's estimated spoken duration (stderr), longest first, and a
/// `warning:` line for each answer past the 40 s mark: with the prompts played after
/// it, a long answer is rarely heard to 75 % (the SC3.2 threshold).
fn print_durations(kb: &KnowledgeBase, list: bool) {
    let mut all = kb.answer_durations();
    all.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then_with(|| a.slug.cmp(&b.slug)));
    if list {
        eprintln!("answer durations (estimated at {} words/s):", nlu::knowledge::WORDS_PER_SECOND);
        for d in &all {
            let mark = if d.is_long() { "  (long)" } else { "" };
            eprintln!("  {:>4.0} s  {}{mark}", d.seconds, d.slug);
        }
    }
    for d in all.iter().filter(|d| d.is_long()) {
        eprintln!(
            "warning: {}:{}: answer takes about {:.0} s to say (> {:.0} s): shorten it so callers hear it to the end",
            d.file.display(),
            d.line,
            d.seconds,
            d.warn_seconds()
        );
    }
}

pub fn prompts_beside(knowledge: &Path) -> PathBuf {
    let parent = knowledge.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parent.join("prompts").join("prompts.toml")
}

pub fn run(cmd: KnowledgeCommand) -> Result<()> {
    match cmd {
        KnowledgeCommand::Check { dir, prompts, no_durations } => {
            let dir = dir.unwrap_or_else(default_knowledge_dir);
            let prompts = prompts.unwrap_or_else(|| prompts_beside(&dir));
            let today = utc_date(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0));
            let kb = KnowledgeBase::load(&dir);
            let mut diagnostics = match &kb {
                Ok(kb) => {
                    let d = kb.check(today);
                    print_durations(kb, !no_durations);
                    eprintln!("knowledge: {} topics, {} intents read from {}", kb.topics.len(), kb.intents.len(), dir.display());
                    d
                }
                Err(e) => e.0.clone(),
            };
            match Prompts::load(&prompts) {
                Ok(p) => {
                    diagnostics.extend(p.check());
                    if let Ok(kb) = &kb {
                        diagnostics.extend(p.check_references(kb));
                    }
                }
                Err(d) => diagnostics.push(d),
            }
            for d in &diagnostics {
                println!("{d}");
            }
            if diagnostics.is_empty() {
                eprintln!("knowledge: no error");
                Ok(())
            } else {
                eprintln!("knowledge: {} error(s)", diagnostics.len());
                std::process::exit(1);
            }
        }
    }
}
