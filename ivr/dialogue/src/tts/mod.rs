//! Speech out: a small [`Voice`] trait, SVOX Pico through its C library (default) and
//! espeak-ng as a separate process (fallback; GPL, so never linked), plus the French
//! pronunciation fixes both need.

mod espeak;
mod pico;
pub mod pronounce;

pub use espeak::EspeakVoice;
pub use pico::PicoVoice;

/// Mono 16-bit PCM at `rate` Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    pub rate: u32,
    pub samples: Vec<i16>,
}

impl Pcm {
    pub fn duration_ms(&self) -> u64 {
        if self.rate == 0 {
            return 0;
        }
        self.samples.len() as u64 * 1000 / u64::from(self.rate)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error("voice {voice} unavailable: {reason}")]
    Unavailable { voice: &'static str, reason: String },
    #[error("voice {voice} failed: {reason}")]
    Synthesis { voice: &'static str, reason: String },
}

/// A text-to-speech engine. `id` goes into the cache key so changing voice or engine
/// version re-renders everything.
pub trait Voice: Send + Sync {
    fn id(&self) -> String;
    fn synthesize(&self, text: &str) -> Result<Pcm, TtsError>;
}

/// The default voice if it can be loaded, else espeak-ng if installed.
pub fn default_voice() -> Result<Box<dyn Voice>, TtsError> {
    match PicoVoice::french() {
        Ok(v) => Ok(Box::new(v)),
        Err(pico_err) => match EspeakVoice::french() {
            Ok(v) => {
                tracing::warn!(%pico_err, "SVOX Pico unavailable, using espeak-ng");
                Ok(Box::new(v))
            }
            Err(_) => Err(pico_err),
        },
    }
}
