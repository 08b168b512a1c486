//! RTP media: codecs, jitter buffer, DTMF, RTCP, and the per-call stream state.

pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod rtcp;
pub mod stream;
