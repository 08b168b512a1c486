//! Telephone audio primitives, one implementation for the whole workspace: the G.711
//! codecs (A-law, µ-law) and band-limited resampling (whole signals and 20 ms frames).
//! The media path (`ivr-telephony`), the recognizer (`ivr-speech`) and the prompt
//! renderer (`ivr-dialogue`) all use these.

pub mod g711;
pub mod resample;

pub use resample::{resample, ResampleError, StreamResampler};
