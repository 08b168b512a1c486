//! French text analysis for speech transcripts.

mod fold;

pub use fold::fold_text;
