//! `ivr classify`: one utterance per stdin line in, one JSON decision per line out.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use nlu::knowledge::KnowledgeBase;
use nlu::Matcher;

use super::knowledge::default_knowledge_dir;

#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// Knowledge directory (default: ./knowledge, else the one of the binary's checkout).
    #[arg(long)]
    pub knowledge: Option<PathBuf>,
    /// Also print the five best intents and the coverage of each utterance on stderr.
    #[arg(long)]
    pub explain: bool,
}

pub fn build_matcher(dir: Option<PathBuf>) -> Result<Matcher> {
    let dir = dir.unwrap_or_else(default_knowledge_dir);
    let kb = KnowledgeBase::load(&dir).with_context(|| format!("loading {}", dir.display()))?;
    Matcher::build(&kb).context("building the intent index")
}

pub fn run(args: ClassifyArgs) -> Result<()> {
    let started = Instant::now();
    let matcher = build_matcher(args.knowledge)?;
    tracing::debug!(topics = matcher.topic_count(), ms = started.elapsed().as_millis() as u64, "index built");
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin")?;
        let text = line.trim_end_matches('\r');
        let ranking = matcher.rank(text)?;
        let decision = matcher.decide(text, &ranking);
        if args.explain {
            let top: Vec<String> = ranking.ranked.iter().take(5).map(|(i, s)| format!("{i}={s:.3}")).collect();
            eprintln!(
                "{text} -> {} [{}] cov={:.2} tcov={:.2} human={} stems={:?}",
                decision.intent,
                top.join(" "),
                ranking.coverage,
                ranking.top_coverage,
                ranking.asks_for_human,
                ranking.analyzed.stems
            );
        }
        serde_json::to_writer(&mut out, &decision)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
