//! Audio in: WAV files (PCM and G.711), G.711 decoding, resampling to the 16 kHz
//! the recognizer and the VAD take, and trimming of non-speech edges.

/// The workspace's one G.711 and one resampler (`ivr-audio`), under their old paths.
pub use ivr_audio::{g711, resample};
pub mod trim;
pub mod wav;

/// Whisper and Silero VAD both take 16 kHz mono.
pub const MODEL_RATE: u32 = 16_000;

/// Mono samples in [-1, 1] at `rate` Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub rate: u32,
    pub samples: Vec<f32>,
}

impl Audio {
    pub fn duration_ms(&self) -> u64 {
        if self.rate == 0 {
            return 0;
        }
        self.samples.len() as u64 * 1000 / u64::from(self.rate)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("unsupported WAV: {0}")]
    Unsupported(String),
    #[error("malformed WAV: {0}")]
    Malformed(String),
    #[error(transparent)]
    Resample(#[from] ivr_audio::ResampleError),
}
