//! Speech input for the 3230 voicebot: the Whisper model supply (CTranslate2 →
//! ggml), audio reading and resampling, and the whisper-rs recognizer.

pub mod asr;
pub mod audio;
pub mod eval;
pub mod model;
pub mod pool;
pub mod priority;
pub mod vad;
