//! Speech recognition with whisper-rs: one model per process shared by every
//! worker, French settings for short telephone utterances, and the guard
//! against Whisper's phantom phrases.

pub mod alternatives;
pub mod guard;
pub mod recognizer;

pub use recognizer::{AsrConfig, AsrError, AsrWorker, Decoding, Preset, Recognizer, Transcript};

use crate::audio::{resample::resample, trim::speech_range, Audio, AudioError, MODEL_RATE};

/// File audio → 16 kHz with non-speech edges trimmed, or `None` when there is
/// no speech to send (silence must never reach Whisper).
pub fn prepare_file_audio(audio: &Audio) -> Result<Option<Vec<f32>>, AudioError> {
    let pcm = resample(&audio.samples, audio.rate, MODEL_RATE)?;
    Ok(speech_range(&pcm, MODEL_RATE).map(|r| pcm[r].to_vec()))
}
