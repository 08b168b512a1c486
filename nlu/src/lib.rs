//! Knowledge loading, French analysis, a tantivy index and the intent matcher of the
//! 3230 voicebot.
//!
//! ```text
//! knowledge/*.toml ──KnowledgeBase::load──▶ check() ──▶ Matcher::build (tantivy, RAM)
//!                                                         │
//! transcript ──analysis (fold, elision, numbers, acronyms, synonyms, stems, trigrams)
//!            ──▶ BM25 per field, normalised ──▶ rules (human request, @none, clarify) ──▶ Decision
//! ```
//!
//! [`SharedMatcher`] holds the current matcher behind an `Arc` and swaps it whole when
//! the content changes; a knowledge base that fails to load leaves the previous one
//! serving.

pub mod agent;
pub mod analysis;
pub mod index;
pub mod knowledge;
pub mod matcher;
mod shared;

#[cfg(test)]
mod matcher_tests;

pub use matcher::{AGENT, Decision, Matcher, NONE, RunnerUp, Thresholds, Weights};
pub use shared::{ReloadError, SharedMatcher};
