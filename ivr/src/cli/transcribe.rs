//! `ivr transcribe FILE.wav...`: one JSON line per file on stdout,
//! `{"file","text","audio_ms","asr_ms"}`; a file that cannot be read gives a
//! one-line error on stderr naming it, and the others are still transcribed.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ivr_speech::asr::{prepare_file_audio, AsrConfig, Decoding, Recognizer};
use ivr_speech::audio::wav::read_wav_bytes;

#[derive(Args, Debug)]
pub struct TranscribeArgs {
    /// ggml Whisper model (default: $IVR_MODEL or models/cache/ggml-base-q8_0.bin).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Decoder threads (default: the machine's cores, at most 8).
    #[arg(long)]
    threads: Option<usize>,
    /// Beam search width; 0 or absent = greedy.
    #[arg(long, default_value_t = 0)]
    beam: u8,
    /// Domain prompt given to the decoder before each utterance.
    #[arg(long)]
    prompt: Option<String>,
    /// WAV files: mono or stereo, 8 or 16 kHz (any rate is resampled), PCM or G.711.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(serde::Serialize)]
struct Line<'a> {
    file: &'a str,
    text: &'a str,
    /// The best text with one uncertain token replaced by its runner-up.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    alternatives: &'a [String],
    audio_ms: u64,
    asr_ms: u64,
}

pub fn run(a: TranscribeArgs) -> anyhow::Result<()> {
    let mut config = AsrConfig::default();
    if let Some(t) = a.threads {
        config.threads = t.max(1);
    }
    if a.beam > 1 {
        config.decoding = Decoding::Beam(a.beam);
    }
    config.initial_prompt = a.prompt;
    let model = a.model.unwrap_or_else(ivr_speech::model::default_model_path);
    let recognizer = Recognizer::load(&model, config)?;
    let mut worker = recognizer.worker().context("creating a Whisper state")?;
    let stdout = std::io::stdout();
    let mut failures = 0usize;
    for path in &a.files {
        let name = path.display().to_string();
        let outcome = std::fs::read(path).map_err(anyhow::Error::from).and_then(|bytes| {
            let audio = read_wav_bytes(&bytes)?;
            let audio_ms = audio.duration_ms();
            match prepare_file_audio(&audio)? {
                // Nothing but silence/noise: never shown to Whisper.
                None => Ok((String::new(), Vec::new(), audio_ms, 0)),
                Some(pcm) => {
                    let t = worker.transcribe(&pcm)?;
                    Ok((t.text, t.alternatives, audio_ms, t.asr_ms))
                }
            }
        });
        match outcome {
            Ok((text, alternatives, audio_ms, asr_ms)) => {
                let line = serde_json::to_string(&Line { file: &name, text: &text, alternatives: &alternatives, audio_ms, asr_ms })?;
                let mut out = stdout.lock();
                writeln!(out, "{line}")?;
                out.flush()?;
            }
            Err(e) => {
                failures += 1;
                eprintln!("ivr transcribe: {name}: {e:#}");
            }
        }
    }
    if failures > 0 {
        anyhow::bail!("{failures} of {} files could not be transcribed", a.files.len());
    }
    Ok(())
}
