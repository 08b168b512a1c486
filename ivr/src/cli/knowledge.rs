//! `ivr knowledge check`: validates the content files and prints `file:line: reason`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;
use nlu::knowledge::{KnowledgeBase, Prompts, utc_date};

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

pub fn prompts_beside(knowledge: &Path) -> PathBuf {
    let parent = knowledge.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parent.join("prompts").join("prompts.toml")
}

pub fn run(cmd: KnowledgeCommand) -> Result<()> {
    match cmd {
        KnowledgeCommand::Check { dir, prompts } => {
            let dir = dir.unwrap_or_else(default_knowledge_dir);
            let prompts = prompts.unwrap_or_else(|| prompts_beside(&dir));
            let today = utc_date(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            );
            let kb = KnowledgeBase::load(&dir);
            let mut diagnostics = match &kb {
                Ok(kb) => {
                    let d = kb.check(today);
                    eprintln!(
                        "knowledge: {} topics, {} intents read from {}",
                        kb.topics.len(),
                        kb.intents.len(),
                        dir.display()
                    );
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
