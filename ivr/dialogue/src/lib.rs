//! The conversation's brain and voice: endpointing and barge-in, opening hours, the
//! dialogue policy (all sans-IO), and the rendering of prompts and answers to 8 kHz audio.

pub mod audio;
pub mod content;
pub mod conversation;
pub mod endpointing;
pub mod hours;
pub mod policy;
pub mod render;
pub mod switches;
pub mod tts;
