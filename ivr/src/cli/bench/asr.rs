//! `ivr bench asr`: WER and real-time factor of the recognizer on the Debian
//! Asterisk French prompts, for several model/decoding configurations in one
//! run, each against the first one (the baseline) as ratios.
//!
//! Timing covers what the bot does per utterance: resampling, trimming and
//! recognition, with the model loaded once and warmed up. RTF = recognition
//! time / full file duration.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use ivr_speech::asr::{prepare_file_audio, AsrConfig, Decoding, Preset, Recognizer};
use ivr_speech::audio::wav::read_wav;
use ivr_speech::eval::{self, normalize, word_errors};
use ivr_speech::model::{F16_FILE, Q8_0_FILE};

#[derive(Args, Debug)]
pub struct AsrBenchArgs {
    /// Directory holding the ggml models.
    #[arg(long, default_value = "models/cache")]
    models: PathBuf,
    #[arg(long, default_value = eval::DEFAULT_SOUNDS_DIR)]
    sounds: PathBuf,
    #[arg(long, default_value = eval::DEFAULT_TRANSCRIPTS)]
    transcripts: PathBuf,
    /// Use N prompts spread evenly over the sorted set (0 = all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// Only prompts whose name contains this.
    #[arg(long)]
    subset: Option<String>,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Configurations, comma-separated: MODEL-PRESET[-beamN][-ctxN][-fa] with MODEL
    /// f16|q8, PRESET plain|tuned, beamN a beam width, ctxN an encoder window in
    /// frames (1500 = 30 s), fa whisper.cpp's flash attention, noalt without the
    /// alternative transcripts (the step log read by a logits callback). The first is the
    /// baseline of the ratios.
    #[arg(long, default_value = "f16-plain,f16-tuned,q8-plain,q8-tuned,q8-tuned-beam5", value_delimiter = ',')]
    configs: Vec<String>,
    /// Domain prompt for the tuned presets.
    #[arg(long)]
    prompt: Option<String>,
    /// Print every prompt whose transcript has errors.
    #[arg(long)]
    show_errors: bool,
}

struct RunConfig {
    label: String,
    model: PathBuf,
    asr: AsrConfig,
}

#[derive(Default, Clone, Copy)]
struct Totals {
    errors: usize,
    ref_words: usize,
    audio_ms: u64,
    asr_ms: u64,
    files: usize,
}

impl Totals {
    fn wer(&self) -> f64 {
        self.errors as f64 / self.ref_words.max(1) as f64
    }
    fn rtf(&self) -> f64 {
        self.asr_ms as f64 / self.audio_ms.max(1) as f64
    }
}

fn parse_config(label: &str, a: &AsrBenchArgs) -> anyhow::Result<RunConfig> {
    let mut parts = label.split('-');
    let model = match parts.next() {
        Some("f16") => a.models.join(F16_FILE),
        Some("q8") => a.models.join(Q8_0_FILE),
        _ => bail!("{label}: model must be f16 or q8"),
    };
    let mut asr = AsrConfig { threads: a.threads.max(1), ..AsrConfig::default() };
    asr.preset = match parts.next() {
        Some("plain") => Preset::Plain,
        Some("tuned") => Preset::Tuned,
        _ => bail!("{label}: preset must be plain or tuned"),
    };
    if asr.preset == Preset::Tuned {
        asr.initial_prompt = a.prompt.clone();
    }
    for opt in parts {
        if let Some(n) = opt.strip_prefix("beam") {
            asr.decoding = Decoding::Beam(n.parse().context("expected beamN")?);
        } else if let Some(n) = opt.strip_prefix("ctx") {
            // Reduced encoder window, only ever compared with the full one.
            asr.audio_ctx = Some(n.parse().context("expected ctxN (encoder frames, 1500 = 30 s)")?);
        } else if opt == "fa" {
            asr.flash_attn = true;
        } else if opt == "noalt" {
            // Without the alternatives' logits callback: its cost, measured in the same run.
            asr.alternatives = false;
        } else {
            bail!("{label}: unknown option {opt} (beamN, ctxN, fa or noalt)");
        }
    }
    Ok(RunConfig { label: label.to_string(), model, asr })
}

pub fn run(a: AsrBenchArgs) -> anyhow::Result<()> {
    let configs = a.configs.iter().map(|c| parse_config(c, &a)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut items = eval::load_asterisk_corpus(&a.sounds, &a.transcripts)?;
    if let Some(s) = &a.subset {
        items.retain(|i| i.name.contains(s.as_str()));
    }
    let items = eval::spread(&items, a.limit);
    if items.is_empty() {
        bail!("no prompts found in {} with transcripts in {}", a.sounds.display(), a.transcripts.display());
    }
    // Decode every file once: the timed loop measures what a call would do
    // with audio already in memory.
    let audio: Vec<_> = items.iter().map(|i| read_wav(&i.wav)).collect::<Result<_, _>>()?;
    let total_s = audio.iter().map(|a| a.duration_ms()).sum::<u64>() as f64 / 1000.0;
    println!(
        "ASR bench: {} prompts, {:.1} s of 8 kHz speech, {} threads, normalization: lower case, apostrophes/hyphens split, punctuation removed, digits as French words",
        items.len(),
        total_s,
        a.threads
    );
    // One load per model file and context setting (flash attention is fixed at load).
    let mut loaded: BTreeMap<(PathBuf, bool), Recognizer> = BTreeMap::new();
    let mut results: Vec<(String, Totals)> = Vec::new();
    for cfg in &configs {
        let key = (cfg.model.clone(), cfg.asr.flash_attn);
        if !loaded.contains_key(&key) {
            let r = Recognizer::load(&cfg.model, cfg.asr.clone())?;
            loaded.insert(key.clone(), r);
        }
        let recognizer = loaded[&key].with_config(cfg.asr.clone());
        let mut worker = recognizer.worker()?;
        // Warm-up (first-run allocations, page cache), not timed.
        if let Some(pcm) = prepare_file_audio(&audio[0])? {
            worker.transcribe(&pcm)?;
        }
        let mut t = Totals::default();
        for (item, au) in items.iter().zip(&audio) {
            let started = Instant::now();
            let text = match prepare_file_audio(au)? {
                Some(pcm) => worker.transcribe(&pcm)?.text,
                None => String::new(),
            };
            let asr_ms = started.elapsed().as_millis() as u64;
            let (r, h) = (normalize(&item.reference), normalize(&text));
            let errors = word_errors(&r, &h);
            if a.show_errors && errors > 0 {
                println!("  {:<16} {:<32} ref: {}\n  {:<16} {:<32} hyp: {}", cfg.label, item.name, item.reference, "", "", text);
            }
            t.errors += errors;
            t.ref_words += r.len();
            t.audio_ms += au.duration_ms();
            t.asr_ms += asr_ms;
            t.files += 1;
        }
        println!(
            "{:<18} WER {:>5.1} % ({} / {} words)  RTF {:.3}  ({:.0} ms per prompt)",
            cfg.label,
            t.wer() * 100.0,
            t.errors,
            t.ref_words,
            t.rtf(),
            t.asr_ms as f64 / t.files.max(1) as f64
        );
        results.push((cfg.label.clone(), t));
    }
    if let Some((base_label, base)) = results.first().cloned() {
        println!("\nratios to {base_label} (same run):");
        for (label, t) in &results {
            println!("{:<18} WER x{:.2}  time x{:.2}", label, t.wer() / base.wer().max(1e-9), t.rtf() / base.rtf().max(1e-9));
        }
    }
    for (label, t) in &results {
        let line = serde_json::json!({
            "config": label, "prompts": t.files, "wer": t.wer(), "rtf": t.rtf(),
            "errors": t.errors, "ref_words": t.ref_words, "audio_ms": t.audio_ms, "asr_ms": t.asr_ms,
            "threads": a.threads,
        });
        println!("{line}");
    }
    Ok(())
}
