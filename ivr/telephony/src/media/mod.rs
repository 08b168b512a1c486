//! Prompt storage and paced playback.

pub mod playback;
pub mod prompt;
