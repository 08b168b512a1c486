//! The knowledge base: one TOML file per topic (`knowledge/<slug>.toml`), the special
//! intents (`knowledge/_intents/{agent,none}.toml`), the topic catalog
//! (`knowledge/catalog.tsv`) and the system prompts (`prompts/prompts.toml`).
//!
//! Loading ([`KnowledgeBase::load`]) only fails on what makes a file unreadable
//! (TOML syntax, wrong types, unknown or missing keys); everything an editor can get
//! subtly wrong (lengths, sources, duplicates, dates) is reported by
//! [`KnowledgeBase::check`]. Both speak in [`Diagnostic`]s printed as `file:line: reason`,
//! so a non-developer can jump to the line.

mod check;
mod load;
mod prompts;
mod tree;

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

pub use check::{spoken_seconds, utc_date, AnswerDuration, MAX_ANSWER_SECONDS, MAX_SHORT_ANSWER_SECONDS, MIN_ANSWER_SECONDS, MIN_EXAMPLES, WORDS_PER_SECOND};
pub use load::{Catalog, LoadError};
pub use prompts::{Prompt, Prompts, REQUIRED_PROMPTS};
pub use tree::{check_dirs, check_tree};

/// What the dialogue does once a topic is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Read the answer.
    Answer,
    /// Say the answer (if any) then transfer to an agent at once.
    Transfer,
    /// The caller's own file: point to choix 1 of the 3230.
    RedirectChoix1,
    /// Run a scripted procedure (see [`Procedure`]).
    Procedure,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Answer => "answer",
            Action::Transfer => "transfer",
            Action::RedirectChoix1 => "redirect-choix1",
            Action::Procedure => "procedure",
        }
    }
}

/// Procedures the CCTP asks for, run by the dialogue when `action = "procedure"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Procedure {
    AttestationNonPaiement,
    Rappel,
}

/// One topic file, as the editors write it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    pub slug: String,
    /// 2 or 3: the 3230 menu choice the topic belongs to.
    pub flow: u8,
    pub title: String,
    pub action: Action,
    #[serde(default)]
    pub procedure: Option<Procedure>,
    #[serde(default)]
    pub complex: bool,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub examples: Vec<String>,
    pub answer: String,
    #[serde(default)]
    pub short_answer: Option<String>,
    #[serde(default)]
    pub follow_up: Option<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    pub reviewed: toml::value::Datetime,
}

/// `knowledge/_intents/*.toml`: phrasings of a non-topic intent (`@agent`, `@none`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialIntent {
    pub intent: String,
    #[serde(default)]
    pub examples: Vec<String>,
}

/// A file that was read, kept so that checks can point at the line of a key or value.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    /// 1-based line of a byte offset.
    pub fn line_of_offset(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// Line where `key = ...` is written at the start of a line, or 1 when absent.
    pub fn line_of_key(&self, key: &str) -> usize {
        for (i, line) in self.text.lines().enumerate() {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix(key) {
                if rest.trim_start().starts_with('=') {
                    return i + 1;
                }
            }
        }
        1
    }

    /// Line of the first occurrence of a string value (as written between quotes),
    /// falling back to the key's line.
    pub fn line_of_value(&self, key: &str, value: &str) -> usize {
        let probe = value.lines().next().unwrap_or(value);
        if !probe.is_empty() {
            if let Some(pos) = self.text.find(probe) {
                return self.line_of_offset(pos);
            }
        }
        self.line_of_key(key)
    }
}

/// A problem in a content file, displayed as `file:line: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub reason: String,
}

impl Diagnostic {
    pub fn new(file: impl Into<PathBuf>, line: usize, reason: impl Into<String>) -> Self {
        Diagnostic { file: file.into(), line, reason: reason.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
    }
}

/// A loaded topic with the file it came from.
#[derive(Debug, Clone)]
pub struct TopicEntry {
    pub topic: Topic,
    pub source: SourceFile,
}

/// A loaded special intent with the file it came from.
#[derive(Debug, Clone)]
pub struct IntentEntry {
    pub intent: SpecialIntent,
    pub source: SourceFile,
}

/// Everything under `knowledge/`, parsed.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    pub dir: PathBuf,
    /// Sorted by slug.
    pub topics: Vec<TopicEntry>,
    /// `@agent`, `@none`, sorted by intent name.
    pub intents: Vec<IntentEntry>,
    pub catalog: Option<Catalog>,
}

impl KnowledgeBase {
    pub fn topic(&self, slug: &str) -> Option<&Topic> {
        self.topics.iter().map(|e| &e.topic).find(|t| t.slug == slug)
    }

    pub fn intent(&self, name: &str) -> Option<&SpecialIntent> {
        self.intents.iter().map(|e| &e.intent).find(|i| i.intent == name)
    }
}

#[cfg(test)]
mod tests;
