//! `ivr prompts render`: turn every stale system prompt and topic answer into 8 kHz audio
//! under prompts/audio/ (cached by text hash; fast when nothing changed).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use ivr_dialogue::content::Content;
use ivr_dialogue::render::Renderer;
use ivr_dialogue::tts::{default_voice, EspeakVoice, PicoVoice, Voice};

use super::knowledge::{default_knowledge_dir, prompts_beside};

#[derive(Subcommand, Debug)]
pub enum PromptsCommand {
    /// Render what changed since the last run and report counts, audio seconds and time.
    Render(RenderArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum VoiceChoice {
    /// SVOX Pico when installed, else espeak-ng.
    Auto,
    Pico,
    Espeak,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// One summary line only.
    #[arg(long)]
    quiet: bool,
    /// Knowledge directory (default: ./knowledge, else the checkout's).
    #[arg(long)]
    knowledge: Option<PathBuf>,
    /// Prompt file (default: prompts/prompts.toml beside the knowledge directory).
    #[arg(long)]
    prompts: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    voice: VoiceChoice,
}

pub fn run(cmd: PromptsCommand) -> Result<()> {
    match cmd {
        PromptsCommand::Render(args) => render(args),
    }
}

fn render(args: RenderArgs) -> Result<()> {
    let knowledge = args.knowledge.unwrap_or_else(default_knowledge_dir);
    let prompts = args.prompts.unwrap_or_else(|| prompts_beside(&knowledge));
    let prompts_dir = prompts.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    let content = Content::load(&knowledge, &prompts).context("loading content")?;
    for problem in &content.problems {
        eprintln!("skipped: {problem}");
    }
    let voice: Box<dyn Voice> = match args.voice {
        VoiceChoice::Auto => default_voice()?,
        VoiceChoice::Pico => Box::new(PicoVoice::french()?),
        VoiceChoice::Espeak => Box::new(EspeakVoice::french()?),
    };
    let renderer = Renderer { voice: voice.as_ref(), audio_dir: prompts_dir.join("audio"), studio_dir: prompts_dir.join("studio") };
    let items = content.render_items();
    let report = renderer.render_all(&items)?;
    if !args.quiet {
        for (key, why) in &report.failed {
            eprintln!("failed: {key}: {why}");
        }
    }
    println!(
        "prompts: {} items ({} prompts, {} topics) with {}: {} rendered ({:.1} s of audio), {} cached, {} studio, {} failed, {} old files removed; {:.1} s of audio in all; {:.2} s",
        items.len(),
        content.prompts.len(),
        content.topics.len(),
        voice.id(),
        report.rendered,
        report.rendered_ms as f64 / 1000.0,
        report.cached,
        report.studio,
        report.failed.len(),
        report.removed_files,
        report.total_ms as f64 / 1000.0,
        report.elapsed.as_secs_f64(),
    );
    if !report.failed.is_empty() {
        bail!("{} items could not be rendered", report.failed.len());
    }
    Ok(())
}
