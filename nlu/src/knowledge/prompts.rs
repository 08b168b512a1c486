//! `prompts/prompts.toml`: the system prompts, one table per prompt id.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::load::parse_toml;
use super::{Diagnostic, SourceFile};

/// Prompt ids the dialogue plays; each must exist with a non-empty text.
pub const REQUIRED_PROMPTS: &[&str] = &[
    "greeting_choix2",
    "greeting_choix3",
    "ask_question",
    "clarify",
    "not_understood",
    "keypad_menu",
    "keypad_invalid",
    "transfer",
    "transfer_failed",
    // Played when the transfer of a caller in danger fails: the emergency numbers again.
    "transfer_failed_safety",
    "closed",
    "saturation",
    "crisis",
    "goodbye",
    "another_question",
    "repeat_hint",
    "wait_moment",
    "redirect_choix1",
    "appointment",
    "urgent_safety",
    "callback_collect",
    "callback_done",
    "attestation_collect",
    "attestation_done",
    "silence_reask",
];

/// Placeholders a prompt may carry, filled in by the dialogue.
fn allowed_placeholders(id: &str) -> &'static [&'static str] {
    match id {
        "clarify" => &["a", "b"],
        _ => &[],
    }
}

fn required_placeholders(id: &str) -> &'static [&'static str] {
    match id {
        "clarify" => &["a", "b"],
        _ => &[],
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    pub text: String,
    /// false for legal and emergency messages the caller may not cut short.
    #[serde(default = "yes")]
    pub interruptible: bool,
    /// Keypad digit → intent (a topic slug or `@agent`), for menus read to the caller.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

/// All prompts, by id, with the file they came from.
#[derive(Debug, Clone)]
pub struct Prompts {
    pub prompts: BTreeMap<String, Prompt>,
    pub source: SourceFile,
}

/// `{name}` placeholders of a text, in order.
pub(crate) fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push(after[..close].to_string());
                rest = &after[close + 1..];
            }
            None => {
                out.push(after.to_string());
                break;
            }
        }
    }
    out
}

impl Prompts {
    pub fn load(path: impl AsRef<Path>) -> Result<Prompts, Diagnostic> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Diagnostic::new(path, 1, format!("cannot read: {e}")))?;
        let source = SourceFile { path: path.to_path_buf(), text };
        let prompts = parse_toml::<BTreeMap<String, Prompt>>(&source)?;
        Ok(Prompts { prompts, source })
    }

    pub fn get(&self, id: &str) -> Option<&Prompt> {
        self.prompts.get(id)
    }

    /// Missing ids, empty texts, unknown or missing placeholders.
    pub fn check(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let path = &self.source.path;
        for id in REQUIRED_PROMPTS {
            if !self.prompts.contains_key(*id) {
                out.push(Diagnostic::new(path, 1, format!("missing prompt [{id}]")));
            }
        }
        for (id, prompt) in &self.prompts {
            let line = self.source.line_of_value("text", &prompt.text).max(self.table_line(id));
            if prompt.text.trim().is_empty() {
                out.push(Diagnostic::new(path, self.table_line(id), format!("[{id}] text is empty")));
                continue;
            }
            let found = placeholders(&prompt.text);
            for p in &found {
                if !allowed_placeholders(id).contains(&p.as_str()) {
                    out.push(Diagnostic::new(path, line, format!("[{id}] unknown placeholder {{{p}}}")));
                }
            }
            for p in required_placeholders(id) {
                if !found.iter().any(|f| f == p) {
                    out.push(Diagnostic::new(path, line, format!("[{id}] must contain the placeholder {{{p}}}")));
                }
            }
        }
        out
    }

    /// Keypad options must name a digit and an intent that exists: a menu entry
    /// leading nowhere is a dead end for the caller.
    pub fn check_references(&self, kb: &super::KnowledgeBase) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let path = &self.source.path;
        for (id, prompt) in &self.prompts {
            let line = self.table_line(&format!("{id}.options"));
            for (key, target) in &prompt.options {
                let digit = key.len() == 1 && key.bytes().all(|b| b.is_ascii_digit() || b == b'*' || b == b'#');
                if !digit {
                    out.push(Diagnostic::new(path, line, format!("[{id}.options] key {key:?} is not a keypad key")));
                }
                let known = kb.topic(target).is_some() || target == "@agent" || target == "@none";
                if !known {
                    out.push(Diagnostic::new(path, line, format!("[{id}.options] {key} leads to unknown intent {target:?}")));
                }
            }
        }
        out
    }

    fn table_line(&self, id: &str) -> usize {
        let header = format!("[{id}]");
        self.source.text.lines().position(|l| l.trim() == header).map(|i| i + 1).unwrap_or(1)
    }
}
