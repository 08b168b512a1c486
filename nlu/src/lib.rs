//! Knowledge loading, French analysis, a tantivy index and the intent matcher of the
//! 3230 voicebot.

pub mod analysis;
pub mod knowledge;
