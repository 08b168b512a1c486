//! What changed between two snapshots, in words an editor reads: topics added and retired,
//! and for a changed topic each field ("Réponse : ancien texte / nouveau texte"), lists by
//! the items added and removed; the `@none`/`@agent` phrasings, the system prompts one by
//! one, and the catalogue.

use std::collections::BTreeSet;

use ivr_accounting::ContentSnapshot;
use maud::{html, Markup};
use toml::Value;

/// One field that changed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldChange {
    /// A text or a single value: before, after ("" when absent).
    Text { label: String, old: String, new: String },
    /// A list: the items added and removed.
    List { label: String, added: Vec<String>, removed: Vec<String> },
}

/// One file's change.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    TopicAdded {
        slug: String,
        title: String,
    },
    TopicRetired {
        slug: String,
        title: String,
    },
    TopicChanged {
        slug: String,
        title: String,
        fields: Vec<FieldChange>,
    },
    /// `_intents/*.toml`, `prompts/prompts.toml`, `catalog.tsv`.
    Other {
        what: String,
        fields: Vec<FieldChange>,
    },
}

const TOPIC_FIELDS: [(&str, &str); 13] = [
    ("title", "Titre"),
    ("flow", "Parcours"),
    ("action", "Action"),
    ("procedure", "Démarche"),
    ("complex", "Sujet complexe"),
    ("answer", "Réponse"),
    ("short_answer", "Réponse courte"),
    ("follow_up", "Suggestion après la réponse"),
    ("keywords", "Mots-clés"),
    ("examples", "Formulations"),
    ("sources", "Sources"),
    ("reviewed", "Relu le"),
    ("slug", "Identifiant"),
];

fn table(text: Option<&String>) -> toml::Table {
    text.and_then(|t| toml::from_str::<toml::Table>(t).ok()).unwrap_or_default()
}

fn plain(v: Option<&Value>) -> String {
    match v {
        None => String::new(),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(v) => v.to_string(),
    }
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v?.as_array().map(|a| a.iter().map(|x| plain(Some(x))).collect())
}

fn field(label: &str, old: Option<&Value>, new: Option<&Value>) -> Option<FieldChange> {
    if old == new {
        return None;
    }
    match (strings(old), strings(new)) {
        (Some(_), _) | (_, Some(_)) => {
            let (a, b) = (strings(old).unwrap_or_default(), strings(new).unwrap_or_default());
            let before: BTreeSet<&String> = a.iter().collect();
            let after: BTreeSet<&String> = b.iter().collect();
            let added: Vec<String> = b.iter().filter(|x| !before.contains(x)).cloned().collect();
            let removed: Vec<String> = a.iter().filter(|x| !after.contains(x)).cloned().collect();
            if added.is_empty() && removed.is_empty() {
                // Same items, another order.
                return Some(FieldChange::Text { label: label.to_string(), old: a.join(" ; "), new: b.join(" ; ") });
            }
            Some(FieldChange::List { label: label.to_string(), added, removed })
        }
        _ => {
            let (o, n) = (plain(old), plain(new));
            (o != n).then(|| FieldChange::Text { label: label.to_string(), old: o, new: n })
        }
    }
}

fn topic_fields(old: &toml::Table, new: &toml::Table) -> Vec<FieldChange> {
    let mut out: Vec<FieldChange> = TOPIC_FIELDS.iter().filter_map(|(k, label)| field(label, old.get(*k), new.get(*k))).collect();
    let known: BTreeSet<&str> = TOPIC_FIELDS.iter().map(|(k, _)| *k).collect();
    let others: BTreeSet<&String> = old.keys().chain(new.keys()).filter(|k| !known.contains(k.as_str())).collect();
    out.extend(others.into_iter().filter_map(|k| field(k, old.get(k), new.get(k))));
    out
}

fn title_of(t: &toml::Table, slug: &str) -> String {
    t.get("title").and_then(Value::as_str).unwrap_or(slug).to_string()
}

/// Every change from `old` to `new`, topics first (by slug), then the other files.
pub(crate) fn changes(old: &ContentSnapshot, new: &ContentSnapshot) -> Vec<Change> {
    let mut topics = Vec::new();
    let mut others = Vec::new();
    for fc in old.diff(new) {
        let path = fc.path().to_string();
        let (a, b) = (old.files.get(&path), new.files.get(&path));
        let slug = path.strip_prefix("knowledge/").and_then(|n| n.strip_suffix(".toml")).filter(|n| !n.contains('/'));
        match slug {
            Some(slug) => {
                let (ta, tb) = (table(a), table(b));
                topics.push(match (a, b) {
                    (None, _) => Change::TopicAdded { slug: slug.to_string(), title: title_of(&tb, slug) },
                    (_, None) => Change::TopicRetired { slug: slug.to_string(), title: title_of(&ta, slug) },
                    _ => Change::TopicChanged { slug: slug.to_string(), title: title_of(&tb, slug), fields: topic_fields(&ta, &tb) },
                });
            }
            None if path.ends_with(".toml") && path.starts_with("knowledge/_intents/") => {
                let (ta, tb) = (table(a), table(b));
                let name = path.trim_start_matches("knowledge/_intents/").trim_end_matches(".toml");
                let what = match name {
                    "none" => "Questions hors périmètre (@none)".to_string(),
                    "agent" => "Demandes de conseiller (@agent)".to_string(),
                    n => format!("Intention {n}"),
                };
                others.push(Change::Other { what, fields: field("Formulations", ta.get("examples"), tb.get("examples")).into_iter().collect() });
            }
            None if path.ends_with("prompts.toml") => {
                let (ta, tb) = (table(a), table(b));
                let ids: BTreeSet<&String> = ta.keys().chain(tb.keys()).collect();
                let fields = ids
                    .into_iter()
                    .filter_map(|id| {
                        let (x, y) = (ta.get(id).and_then(|v| v.get("text")), tb.get(id).and_then(|v| v.get("text")));
                        field(&format!("Message {id}"), x, y).or_else(|| {
                            (ta.get(id) != tb.get(id)).then(|| FieldChange::Text {
                                label: format!("Message {id} (réglages)"),
                                old: plain(ta.get(id)),
                                new: plain(tb.get(id)),
                            })
                        })
                    })
                    .collect();
                others.push(Change::Other { what: "Messages système".into(), fields });
            }
            None => {
                let fields = vec![FieldChange::Text { label: "Contenu".into(), old: a.cloned().unwrap_or_default(), new: b.cloned().unwrap_or_default() }];
                let what = if path.ends_with("catalog.tsv") { "Catalogue des sujets".to_string() } else { path.clone() };
                others.push(Change::Other { what, fields });
            }
        }
    }
    topics.extend(others);
    topics
}

fn fields_html(fields: &[FieldChange]) -> Markup {
    html! {
        dl class="diff" {
            @for f in fields {
                @match f {
                    FieldChange::Text { label, old, new } => {
                        dt { (label) }
                        dd {
                            div class="old" { span class="tag" { "Avant" } @if old.is_empty() { em { "(vide)" } } @else { (old) } }
                            div class="new" { span class="tag" { "Après" } @if new.is_empty() { em { "(vide)" } } @else { (new) } }
                        }
                    }
                    FieldChange::List { label, added, removed } => {
                        dt { (label) }
                        dd {
                            @for x in added { div class="new" { strong { "Ajout : " } (x) } }
                            @for x in removed { div class="old" { strong { "Retrait : " } (x) } }
                        }
                    }
                }
            }
        }
    }
}

/// The changes as HTML sections.
pub(crate) fn render(changes: &[Change]) -> Markup {
    html! {
        @if changes.is_empty() {
            p { "Aucune différence." }
        }
        @for c in changes {
            @match c {
                Change::TopicAdded { slug, title } => section class="change" {
                    h3 { "Nouveau sujet : " a href={ "/contenu/sujet/" (slug) } { (title) } " (" code { (slug) } ")" }
                }
                Change::TopicRetired { slug, title } => section class="change" {
                    h3 { "Sujet retiré : " (title) " (" code { (slug) } ")" }
                }
                Change::TopicChanged { slug, title, fields } => section class="change" {
                    h3 { "Sujet modifié : " a href={ "/contenu/sujet/" (slug) } { (title) } }
                    (fields_html(fields))
                }
                Change::Other { what, fields } => section class="change" {
                    h3 { (what) }
                    (fields_html(fields))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(files: &[(&str, &str)]) -> ContentSnapshot {
        ContentSnapshot { files: files.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    #[test]
    fn field_by_field() {
        let a = snap(&[
            ("knowledge/a.toml", "slug = \"a\"\ntitle = \"A\"\nanswer = \"vieux\"\nexamples = [\"x\", \"y\"]\n"),
            ("knowledge/b.toml", "slug = \"b\"\ntitle = \"B\"\n"),
            ("prompts/prompts.toml", "[hello]\ntext = \"Bonjour\"\n"),
        ]);
        let b = snap(&[
            ("knowledge/a.toml", "slug = \"a\"\ntitle = \"A\"\nanswer = \"neuf\"\nexamples = [\"x\", \"z\"]\n"),
            ("knowledge/c.toml", "slug = \"c\"\ntitle = \"C\"\n"),
            ("prompts/prompts.toml", "[hello]\ntext = \"Salut\"\n"),
        ]);
        let c = changes(&a, &b);
        assert_eq!(c.len(), 4, "{c:?}");
        assert_eq!(
            c[0],
            Change::TopicChanged {
                slug: "a".into(),
                title: "A".into(),
                fields: vec![
                    FieldChange::Text { label: "Réponse".into(), old: "vieux".into(), new: "neuf".into() },
                    FieldChange::List { label: "Formulations".into(), added: vec!["z".into()], removed: vec!["y".into()] },
                ]
            }
        );
        assert_eq!(c[1], Change::TopicRetired { slug: "b".into(), title: "B".into() });
        assert_eq!(c[2], Change::TopicAdded { slug: "c".into(), title: "C".into() });
        assert!(matches!(&c[3], Change::Other { fields, .. } if fields.len() == 1));
    }
}
