//! `ivr knowledge`: the content files and the content versions in the database.
//!
//! `check` validates the content files and prints `file:line: reason` (errors, on stdout);
//! on stderr it lists each topic's estimated answer duration and warns, without failing,
//! about answers past 40 s. `import`, `export`, `versions`, `publish` and `rollback` work on
//! the versions stored in the accounting database, which every running `ivr serve` follows.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use ivr_accounting::chrono::Utc;
use ivr_accounting::{ContentSnapshot, Store};
use nlu::knowledge::{check_dirs, check_tree, utc_date, KnowledgeBase};

use super::report::{config, redact, DbArgs};

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
    /// Store DIR (holding knowledge/ and prompts/prompts.toml) as a new content version.
    Import {
        dir: PathBuf,
        /// What changed, shown in the version list.
        #[arg(long, default_value = "")]
        note: String,
        /// Also publish it (refused, exit 1, when the checker finds a problem).
        #[arg(long)]
        publish: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Write a content version into DIR (knowledge/ and prompts/prompts.toml).
    Export {
        /// The version (default: the published one).
        #[arg(long)]
        version: Option<i64>,
        dir: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List the content versions, newest first; `*` marks the published one.
    Versions {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Publish version N: every running instance loads it within its poll interval.
    Publish {
        version: i64,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Go back to version N: a new version with N's content, published.
    Rollback {
        version: i64,
        #[command(flatten)]
        db: DbArgs,
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

/// Today's UTC date, for the checker's "reviewed in the future" rule.
pub fn today() -> (i32, u8, u8) {
    utc_date(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0))
}

/// Who a command line action is recorded as: `cli:$USER`, or `cli`.
fn cli_author() -> String {
    match std::env::var("USER") {
        Ok(u) if !u.trim().is_empty() => format!("cli:{}", u.trim()),
        _ => "cli".to_string(),
    }
}

pub fn run(cmd: KnowledgeCommand) -> Result<()> {
    match cmd {
        KnowledgeCommand::Check { dir, prompts, no_durations } => {
            let dir = dir.unwrap_or_else(default_knowledge_dir);
            let prompts = prompts.unwrap_or_else(|| prompts_beside(&dir));
            if let Ok(kb) = KnowledgeBase::load(&dir) {
                print_durations(&kb, !no_durations);
                eprintln!("knowledge: {} topics, {} intents read from {}", kb.topics.len(), kb.intents.len(), dir.display());
            }
            let diagnostics = check_dirs(&dir, &prompts, today());
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
        other => versions_command(other),
    }
}

fn versions_command(cmd: KnowledgeCommand) -> Result<()> {
    let db = match &cmd {
        KnowledgeCommand::Check { .. } => return Ok(()),
        KnowledgeCommand::Import { db, .. }
        | KnowledgeCommand::Export { db, .. }
        | KnowledgeCommand::Versions { db, .. }
        | KnowledgeCommand::Publish { db, .. }
        | KnowledgeCommand::Rollback { db, .. } => db.clone(),
    };
    let cfg = config(&db)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let store = Store::connect(&cfg.db_url).await.with_context(|| format!("opening the database {}", redact(&cfg.db_url)))?;
        let res = versions_on(&store, cmd).await;
        store.close().await;
        res
    })
}

async fn versions_on(store: &Store, cmd: KnowledgeCommand) -> Result<()> {
    let author = cli_author();
    match cmd {
        KnowledgeCommand::Check { .. } => Ok(()),
        KnowledgeCommand::Import { dir, note, publish, .. } => {
            let snap = ContentSnapshot::from_dirs(&ContentSnapshot::knowledge_dir(&dir), &ContentSnapshot::prompts_file(&dir))
                .with_context(|| format!("reading the content under {}", dir.display()))?;
            // Checked in place: the checker reads the same files as `from_dirs` (topics,
            // intents, catalog, prompts), with paths relative to DIR as they will be stored.
            let problems: Vec<String> = check_tree(&dir, today()).iter().map(ToString::to_string).collect();
            if publish && !problems.is_empty() {
                for p in &problems {
                    println!("{p}");
                }
                eprintln!("knowledge: {} error(s): not imported, nothing published", problems.len());
                std::process::exit(1);
            }
            let id = store.create_content_version(&snap, &author, &note, &problems, Utc::now()).await?;
            println!("version {id} created ({} files, digest {})", snap.files.len(), &snap.digest()[..12]);
            for p in &problems {
                println!("{p}");
            }
            if !problems.is_empty() {
                eprintln!("knowledge: version {id} has {} error(s): it cannot be published", problems.len());
            }
            if publish {
                store.publish_content_version(id, &author, Utc::now()).await?;
                println!("version {id} published");
            }
            Ok(())
        }
        KnowledgeCommand::Export { version, dir, .. } => {
            let id = match version {
                Some(id) => id,
                None => match store.published_content().await? {
                    Some((_, v)) => v.id,
                    None => bail!("no content version is published yet (give --version N)"),
                },
            };
            let Some((_, snap)) = store.content_version(id).await? else {
                bail!("content version {id} does not exist");
            };
            snap.write_to(&dir).with_context(|| format!("writing version {id} into {}", dir.display()))?;
            println!("version {id} written to {}", dir.display());
            Ok(())
        }
        KnowledgeCommand::Versions { limit, .. } => {
            let published = store.published_content().await?.map(|(_, v)| v.id);
            println!("  {:>5}  {:<20}  {:<16}  {:>8}  note", "id", "created (UTC)", "author", "problems");
            for v in store.content_versions(limit).await? {
                let mark = if Some(v.id) == published { '*' } else { ' ' };
                println!("{mark} {:>5}  {:<20}  {:<16}  {:>8}  {}", v.id, v.created_at.format("%Y-%m-%d %H:%M:%S"), v.author, v.problems.len(), v.note);
            }
            Ok(())
        }
        KnowledgeCommand::Publish { version, .. } => publish(store, version, &author).await,
        KnowledgeCommand::Rollback { version, .. } => {
            let Some((old, snap)) = store.content_version(version).await? else {
                bail!("content version {version} does not exist");
            };
            if !old.problems.is_empty() {
                for p in &old.problems {
                    println!("{p}");
                }
                eprintln!("knowledge: version {version} has {} error(s): cannot go back to it", old.problems.len());
                std::process::exit(1);
            }
            let id = store.create_content_version(&snap, &author, &format!("retour à la version {version}"), &[], Utc::now()).await?;
            println!("version {id} created from version {version}");
            publish(store, id, &author).await
        }
    }
}

async fn publish(store: &Store, id: i64, author: &str) -> Result<()> {
    match store.publish_content_version(id, author, Utc::now()).await {
        Ok(_) => {
            println!("version {id} published");
            Ok(())
        }
        Err(ivr_accounting::Error::InvalidContentVersion { problems, .. }) => {
            for p in &problems {
                println!("{p}");
            }
            eprintln!("knowledge: version {id} has {} error(s): not published", problems.len());
            std::process::exit(1);
        }
        Err(e) => Err(e.into()),
    }
}
