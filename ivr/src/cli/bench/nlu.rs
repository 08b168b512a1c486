//! `ivr bench nlu`: index build time, per-utterance latency and throughput of the
//! intent matcher, plus leave-one-out accuracy on the knowledge examples (a check of
//! generalisation that does not touch the evaluation sets).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use nlu::knowledge::KnowledgeBase;
use nlu::{Matcher, NONE};

use crate::cli::knowledge::default_knowledge_dir;

#[derive(Args, Debug)]
pub struct NluBenchArgs {
    /// Knowledge directory (default: ./knowledge, else the one of the binary's checkout).
    #[arg(long)]
    pub knowledge: Option<PathBuf>,
    /// Utterances to time, one per line (a TSV's first column); default: every example
    /// phrasing of the knowledge base.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Passes over the utterances.
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
    /// Index builds to time (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub builds: usize,
    /// Also run the leave-one-out check over a sample of every Nth example.
    #[arg(long)]
    pub loo_every: Option<usize>,
    /// Override of the decision's `min_top_coverage` for the leave-one-out run.
    #[arg(long)]
    pub min_top_coverage: Option<f32>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub fn run(args: NluBenchArgs) -> Result<()> {
    let dir = args.knowledge.unwrap_or_else(default_knowledge_dir);
    let load_start = Instant::now();
    let kb = KnowledgeBase::load(&dir).with_context(|| format!("loading {}", dir.display()))?;
    let load = load_start.elapsed();

    let mut builds = Vec::new();
    let mut matcher = None;
    for _ in 0..args.builds.max(1) {
        let t = Instant::now();
        matcher = Some(Matcher::build(&kb)?);
        builds.push(t.elapsed());
    }
    builds.sort();
    let matcher = matcher.context("no build")?;

    let utterances: Vec<String> = match &args.input {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .filter_map(|l| l.split('\t').next())
            .filter(|u| !u.trim().is_empty() && *u != "utterance")
            .map(String::from)
            .collect(),
        None => kb.topics.iter().flat_map(|e| e.topic.examples.clone()).chain(kb.intents.iter().flat_map(|e| e.intent.examples.clone())).collect(),
    };
    anyhow::ensure!(!utterances.is_empty(), "no utterance to time");

    let mut lat = Vec::with_capacity(utterances.len() * args.repeat);
    let total_start = Instant::now();
    for _ in 0..args.repeat.max(1) {
        for u in &utterances {
            let t = Instant::now();
            let d = matcher.classify(u)?;
            lat.push(t.elapsed());
            std::hint::black_box(d);
        }
    }
    let total = total_start.elapsed();
    lat.sort();
    println!("knowledge: {} topics, {} intents, loaded in {:.1} ms", kb.topics.len(), kb.intents.len(), load.as_secs_f64() * 1e3);
    println!(
        "index build: median {:.1} ms (min {:.1}, max {:.1}, {} builds)",
        builds[builds.len() / 2].as_secs_f64() * 1e3,
        builds[0].as_secs_f64() * 1e3,
        builds[builds.len() - 1].as_secs_f64() * 1e3,
        builds.len()
    );
    println!(
        "latency per utterance: p50 {:.0} µs, p90 {:.0} µs, p99 {:.0} µs, max {:.0} µs ({} classifications)",
        micros(percentile(&lat, 0.5)),
        micros(percentile(&lat, 0.9)),
        micros(percentile(&lat, 0.99)),
        micros(percentile(&lat, 1.0)),
        lat.len()
    );
    println!("throughput: {:.0} utterances/s (one thread)", lat.len() as f64 / total.as_secs_f64());

    if let Some(every) = args.loo_every {
        leave_one_out(&kb, every.max(1), args.min_top_coverage)?;
    }
    Ok(())
}

/// Rebuilds the index without one example and classifies it: accuracy on phrasings the
/// index has not seen, and how many `@none` phrasings would have got a topic.
fn leave_one_out(kb: &KnowledgeBase, every: usize, min_top_coverage: Option<f32>) -> Result<()> {
    let mut n = 0usize;
    let mut ok = 0usize;
    let mut unsafe_answers = 0usize;
    let mut negatives = 0usize;
    let mut k = 0usize;
    let owners: Vec<(String, usize, usize)> = kb
        .topics
        .iter()
        .enumerate()
        .flat_map(|(ti, e)| (0..e.topic.examples.len()).map(move |xi| (e.topic.slug.clone(), ti, xi)))
        .chain(kb.intents.iter().enumerate().flat_map(|(ii, e)| (0..e.intent.examples.len()).map(move |xi| (e.intent.intent.clone(), usize::MAX - ii, xi))))
        .collect();
    for (owner, ti, xi) in owners {
        k += 1;
        if !k.is_multiple_of(every) {
            continue;
        }
        let mut held = kb.clone();
        let text = if ti > usize::MAX / 2 { held.intents[usize::MAX - ti].intent.examples.remove(xi) } else { held.topics[ti].topic.examples.remove(xi) };
        let mut m = Matcher::build(&held)?;
        if let Some(v) = min_top_coverage {
            m.thresholds.min_top_coverage = v;
        }
        let d = m.classify(&text)?;
        n += 1;
        let special = owner.starts_with('@');
        if special {
            negatives += 1;
            if !d.intent.starts_with('@') {
                unsafe_answers += 1;
            }
        }
        if d.intent == owner || (owner == NONE && d.intent.starts_with('@')) {
            ok += 1;
        } else {
            println!("LOO miss  {owner} -> {} ({:.2}) :: {text}", d.intent, d.score);
        }
    }
    println!("leave-one-out: {:.1}% ({ok}/{n}), unsafe {unsafe_answers}/{negatives}", 100.0 * ok as f64 / n.max(1) as f64);
    Ok(())
}
