//! What the dialogue and the renderer read from `knowledge/*.toml` and
//! `prompts/prompts.toml`: only the fields they use, parsed leniently so one broken topic
//! file (reported by `ivr knowledge check`) does not silence the whole bot.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::policy::{Audio, DialogueConfig, KeypadGroup, ProcedureKind, TopicAction, TopicInfo};
use crate::render::RenderItem;

/// Topics whose caller may be in danger: safety message, then an agent at once.
pub const URGENT_TOPICS: &[&str] = &["aide-urgence-violences"];

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Toml { path: PathBuf, source: toml::de::Error },
}

#[derive(Debug, Deserialize)]
struct RawPrompt {
    text: String,
    #[serde(default = "yes")]
    interruptible: bool,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
struct RawTopic {
    slug: String,
    title: String,
    action: String,
    #[serde(default)]
    procedure: Option<String>,
    #[serde(default)]
    complex: bool,
    answer: String,
    #[serde(default)]
    short_answer: Option<String>,
    #[serde(default)]
    follow_up: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PromptText {
    pub text: String,
    pub interruptible: bool,
}

#[derive(Debug, Clone)]
pub struct TopicContent {
    pub slug: String,
    pub title: String,
    pub action: TopicAction,
    pub complex: bool,
    pub answer: String,
    pub short_answer: Option<String>,
    /// A suggestion said after the answer ("pour …, dites …").
    pub follow_up: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Content {
    pub prompts: BTreeMap<String, PromptText>,
    /// `[keypad_menu.options]`: digit → topic slug (or `@agent`), the menu's first level.
    pub keypad: Vec<(char, String)>,
    /// `[keypad_menu_<d>]` with its options: the group that digit `d` of the first level
    /// opens.
    pub keypad_groups: Vec<KeypadGroup>,
    pub topics: Vec<TopicContent>,
    /// Files or entries skipped, with why.
    pub problems: Vec<String>,
}

/// `{a}` placeholders split a prompt into parts played around the inserted titles.
pub fn split_placeholders(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        parts.push(rest[..open].trim().to_string());
        rest = &rest[open + close + 1..];
    }
    parts.push(rest.trim().to_string());
    parts
}

fn parse_action(action: &str, procedure: Option<&str>) -> Option<TopicAction> {
    Some(match (action, procedure) {
        ("answer", _) => TopicAction::Answer,
        ("transfer", _) => TopicAction::Transfer,
        ("redirect-choix1", _) => TopicAction::RedirectChoix1,
        ("procedure", Some("attestation-non-paiement")) => TopicAction::Procedure(ProcedureKind::AttestationNonPaiement),
        ("procedure", Some("rappel")) => TopicAction::Procedure(ProcedureKind::Rappel),
        _ => return None,
    })
}

impl Content {
    pub fn load(knowledge_dir: &Path, prompts_file: &Path) -> Result<Content, ContentError> {
        let mut content = Content::default();
        let text = std::fs::read_to_string(prompts_file).map_err(|source| ContentError::Io { path: prompts_file.to_path_buf(), source })?;
        let raw: BTreeMap<String, RawPrompt> = toml::from_str(&text).map_err(|source| ContentError::Toml { path: prompts_file.to_path_buf(), source })?;
        for (id, p) in raw {
            let mut options = Vec::new();
            for (digit, slug) in &p.options {
                match digit.chars().next().filter(|_| digit.chars().count() == 1) {
                    Some(d) => options.push((d, slug.clone())),
                    None => content.problems.push(format!("{id}.options: key {digit:?} is not one digit")),
                }
            }
            let group = id.strip_prefix("keypad_menu_").and_then(|d| {
                let mut chars = d.chars();
                chars.next().filter(|c| c.is_ascii_digit() && chars.next().is_none())
            });
            if id == "keypad_menu" {
                content.keypad = options;
            } else if let Some(digit) = group {
                content.keypad_groups.push(KeypadGroup { digit, prompt: id.clone(), options });
            } else if !options.is_empty() {
                content.problems.push(format!("{id}.options: only the keypad menus (keypad_menu, keypad_menu_<digit>) have options"));
            }
            content.prompts.insert(id, PromptText { text: p.text, interruptible: p.interruptible });
        }
        let entries = std::fs::read_dir(knowledge_dir).map_err(|source| ContentError::Io { path: knowledge_dir.to_path_buf(), source })?;
        let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
        files.sort();
        for path in files {
            let parsed = std::fs::read_to_string(&path).map_err(|e| e.to_string()).and_then(|t| toml::from_str::<RawTopic>(&t).map_err(|e| e.to_string()));
            match parsed {
                Ok(t) => match parse_action(&t.action, t.procedure.as_deref()) {
                    Some(action) => content.topics.push(TopicContent {
                        slug: t.slug,
                        title: t.title,
                        action,
                        complex: t.complex,
                        answer: t.answer,
                        short_answer: t.short_answer,
                        follow_up: t.follow_up,
                    }),
                    None => content.problems.push(format!("{}: unknown action {:?}", path.display(), t.action)),
                },
                Err(e) => content.problems.push(format!("{}: {e}", path.display())),
            }
        }
        Ok(content)
    }

    /// Everything `ivr prompts render` must turn into audio.
    pub fn render_items(&self) -> Vec<RenderItem> {
        let mut items = Vec::new();
        let mut push = |audio: Audio, text: &str| {
            // A part that is only punctuation ("?") has nothing to say.
            if text.chars().any(char::is_alphanumeric) {
                items.push(RenderItem { key: audio.key(), text: text.trim().to_string() });
            }
        };
        for (id, p) in &self.prompts {
            let parts = split_placeholders(&p.text);
            if parts.len() == 1 {
                push(Audio::Prompt(id.clone()), &p.text);
            } else {
                for (i, part) in parts.iter().enumerate() {
                    push(Audio::PromptPart(id.clone(), i), part);
                }
            }
        }
        for t in &self.topics {
            push(Audio::Answer(t.slug.clone()), &t.answer);
            if let Some(short) = &t.short_answer {
                push(Audio::ShortAnswer(t.slug.clone()), short);
            }
            if let Some(follow) = &t.follow_up {
                push(Audio::FollowUp(t.slug.clone()), follow);
            }
            push(Audio::Title(t.slug.clone()), &t.title);
        }
        items
    }

    /// The policy's tables from this content, on top of `base` (limits, transfer URIs).
    pub fn dialogue_config(&self, base: DialogueConfig) -> DialogueConfig {
        let topics: HashMap<String, TopicInfo> = self
            .topics
            .iter()
            .map(|t| {
                let info = TopicInfo { action: t.action, complex: t.complex, urgent: URGENT_TOPICS.contains(&t.slug.as_str()) };
                (t.slug.clone(), info)
            })
            .collect();
        let mut uninterruptible: HashSet<String> = self.prompts.iter().filter(|(_, p)| !p.interruptible).map(|(id, _)| id.clone()).collect();
        uninterruptible.extend(base.uninterruptible.iter().cloned());
        // Only what has text is played (an empty short answer or follow-up is skipped).
        let said = |t: &Option<String>| t.as_deref().is_some_and(|x| x.chars().any(char::is_alphanumeric));
        let short_answers = self.topics.iter().filter(|t| said(&t.short_answer)).map(|t| t.slug.clone()).collect();
        let follow_ups = self.topics.iter().filter(|t| said(&t.follow_up)).map(|t| t.slug.clone()).collect();
        DialogueConfig { topics, keypad: self.keypad.clone(), keypad_groups: self.keypad_groups.clone(), short_answers, follow_ups, uninterruptible, ..base }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_prompts_options_topics_and_skips_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("knowledge");
        std::fs::create_dir_all(k.join("_intents")).unwrap();
        std::fs::write(
            k.join("rsa.toml"),
            "slug = \"rsa\"\nflow = 2\ntitle = \"Le RSA\"\naction = \"answer\"\ncomplex = true\nanswer = \"Le RSA est...\"\nshort_answer = \"Court.\"\nfollow_up = \"Pour la prime, dites prime.\"\nreviewed = 2026-11-23\n",
        )
        .unwrap();
        std::fs::write(
            k.join("aide-urgence-violences.toml"),
            "slug = \"aide-urgence-violences\"\ntitle = \"Violences\"\naction = \"transfer\"\nanswer = \"Appelez le 3919.\"\n",
        )
        .unwrap();
        std::fs::write(k.join("broken.toml"), "slug = ").unwrap();
        let prompts = dir.path().join("prompts.toml");
        std::fs::write(
            &prompts,
            "[clarify]\ntext = \"S'agit-il de {a} ? Ou de {b}\"\n[closed]\ntext = \"Fermé.\"\ninterruptible = false\n[keypad_menu]\ntext = \"Tapez 1.\"\n[keypad_menu.options]\n1 = \"rsa\"\n0 = \"@agent\"\n[keypad_menu_2]\ntext = \"Pour le RSA, tapez 1.\"\n[keypad_menu_2.options]\n1 = \"rsa\"\n[goodbye]\ntext = \"Au revoir.\"\n[goodbye.options]\n1 = \"rsa\"\n",
        )
        .unwrap();
        let c = Content::load(&k, &prompts).unwrap();
        assert_eq!(c.topics.len(), 2);
        // The broken topic file, and options on a prompt that is no menu.
        assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
        assert!(c.problems.iter().any(|p| p.starts_with("goodbye.options")), "{:?}", c.problems);
        assert_eq!(c.keypad, vec![('0', "@agent".to_string()), ('1', "rsa".to_string())]);
        assert_eq!(c.keypad_groups, vec![KeypadGroup { digit: '2', prompt: "keypad_menu_2".into(), options: vec![('1', "rsa".into())] }]);
        let keys: Vec<String> = c.render_items().into_iter().map(|i| i.key).collect();
        for k in ["prompt/clarify#0", "prompt/clarify#1", "prompt/closed", "prompt/keypad_menu_2", "answer/rsa", "short/rsa", "follow/rsa", "title/rsa"] {
            assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
        }
        assert!(!keys.contains(&"prompt/clarify#2".to_string()), "empty tail part not rendered");
        let cfg = c.dialogue_config(DialogueConfig::default());
        assert!(cfg.topics["aide-urgence-violences"].urgent && cfg.topics["rsa"].complex);
        assert!(cfg.uninterruptible.contains("closed") && cfg.uninterruptible.contains("urgent_safety"));
        assert!(cfg.short_answers.contains("rsa") && cfg.follow_ups.contains("rsa"));
        assert!(!cfg.short_answers.contains("aide-urgence-violences") && !cfg.follow_ups.contains("aide-urgence-violences"));
        assert_eq!(cfg.keypad_groups.len(), 1);
    }

    #[test]
    fn placeholder_split() {
        assert_eq!(split_placeholders("A {a} B {b} C"), vec!["A", "B", "C"]);
        assert_eq!(split_placeholders("sans"), vec!["sans"]);
    }
}
