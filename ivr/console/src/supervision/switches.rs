//! `/supervision/interrupteurs`: the saturation, crisis and closed messages, on or off for
//! every instance at once. The state is one row of the shared database (who set it, when);
//! each instance reads it within a second or so, and calls that start afterwards hear it.
//!
//! The crisis text itself is content (the prompt `crisis`): it is shown here as published,
//! and changed through the editors' pages, not here.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use ivr_accounting::SwitchFlags;
use maud::html;
use serde::Deserialize;

use super::{tabs, ROLES};
use crate::pages::{layout, paris};
use crate::{audit, AppState, Authed, ConsoleError};

/// The prompt whose text the crisis switch plays (prompts/prompts.toml).
const CRISIS_PROMPT: &str = "crisis";
const PROMPTS_FILE: &str = "prompts/prompts.toml";

#[derive(Clone, Copy)]
struct SwitchInfo {
    key: &'static str,
    title: &'static str,
    what: &'static str,
}

const SWITCHES: [SwitchInfo; 3] = [
    SwitchInfo {
        key: "saturation",
        title: "Saturation",
        what: "Après l'accueil, annonce que les conseillers sont très sollicités ; les transferts continuent.",
    },
    SwitchInfo { key: "crisis", title: "Message de crise", what: "Après l'accueil, lit le message de crise (incident, grève, événement exceptionnel)." },
    SwitchInfo { key: "closed", title: "Fermeture exceptionnelle", what: "Le message de fermeture remplace la conversation, quelle que soit l'heure." },
];

fn get(flags: SwitchFlags, key: &str) -> bool {
    match key {
        "saturation" => flags.saturation,
        "crisis" => flags.crisis,
        "closed" => flags.closed,
        _ => false,
    }
}

fn with(mut flags: SwitchFlags, key: &str, on: bool) -> Option<SwitchFlags> {
    match key {
        "saturation" => flags.saturation = on,
        "crisis" => flags.crisis = on,
        "closed" => flags.closed = on,
        _ => return None,
    }
    Some(flags)
}

/// `saturation=off crisis=on closed=off`, as `ivr switch` and the service's log say it.
pub(crate) fn describe(f: SwitchFlags) -> String {
    let word = |b: bool| if b { "on" } else { "off" };
    format!("saturation={} crisis={} closed={}", word(f.saturation), word(f.crisis), word(f.closed))
}

/// The crisis text and where it comes from: the published content version, else the
/// prompts file the service started with (its working directory's).
async fn crisis_text(state: &AppState) -> Result<Option<(String, String)>, ConsoleError> {
    let store = state.store()?;
    if let Some((_, version)) = store.published_content().await? {
        if let Some((_, snapshot)) = store.content_version(version.id).await? {
            let text = snapshot.files.get(PROMPTS_FILE).and_then(|p| prompt_text(p, CRISIS_PROMPT));
            return Ok(text.map(|t| (t, format!("version de contenu publiée n° {}", version.id))));
        }
    }
    let file = std::fs::read_to_string(PROMPTS_FILE).ok();
    Ok(file.and_then(|f| prompt_text(&f, CRISIS_PROMPT)).map(|t| (t, format!("fichier {PROMPTS_FILE} (aucune version publiée)"))))
}

/// The `text` of table `[id]` of a prompts file: read by a tiny scan rather than a TOML
/// parser, because the text is only shown here (the editors' pages own its format).
fn prompt_text(file: &str, id: &str) -> Option<String> {
    let header = format!("[{id}]");
    let mut inside = false;
    for line in file.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t == header;
            continue;
        }
        if inside {
            if let Some(v) = t.strip_prefix("text").map(str::trim_start).and_then(|r| r.strip_prefix('=')) {
                let v = v.trim();
                return Some(v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v).replace("\\\"", "\""));
            }
        }
    }
    None
}

/// `GET /supervision/interrupteurs`.
pub async fn page(State(state): State<AppState>, user: Authed) -> Result<Html<String>, ConsoleError> {
    user.require(ROLES)?;
    let current = state.store()?.switch_state().await?;
    let crisis = crisis_text(&state).await?;
    Ok(layout(
        "Messages du serveur vocal",
        Some(&user),
        html! {
            (tabs("/supervision/interrupteurs"))
            p { "Ces messages valent pour toutes les instances ; les appels qui commencent après le changement les entendent (délai d'une à deux secondes)." }
            @match (&current.set_by, current.set_at) {
                (Some(by), Some(at)) => p { "Dernier changement le " (paris(at)) " par " strong { (by) } "." },
                _ => p { "Aucun changement enregistré : tous les messages sont désactivés." },
            }
            table {
                caption { "État des messages" }
                thead { tr { th scope="col" { "Message" } th scope="col" { "Effet" } th scope="col" { "État" } th scope="col" { "Action" } } }
                tbody {
                    @for s in SWITCHES {
                        @let on = get(current.flags, s.key);
                        tr {
                            th scope="row" { (s.title) }
                            td { (s.what) }
                            td { @if on { strong class="on" { "activé" } } @else { "désactivé" } }
                            td {
                                form method="post" action="/supervision/interrupteurs" {
                                    input type="hidden" name="csrf" value=(user.csrf);
                                    input type="hidden" name="name" value=(s.key);
                                    input type="hidden" name="state" value=(if on { "off" } else { "on" });
                                    button type="submit" id={ "bascule-" (s.key) } {
                                        (if on { "Désactiver" } else { "Activer" }) span class="visually-hidden" { " : " (s.title) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Texte du message de crise" }
            @match &crisis {
                Some((text, source)) => {
                    blockquote class="prompt" { (text) }
                    p class="updated" { "Source : " (source) "." }
                },
                None => p { "Texte introuvable : ni version de contenu publiée, ni fichier " (PROMPTS_FILE) " lisible par la console (message « " (CRISIS_PROMPT) " »)." },
            }
            p { "Modifier ce texte est un changement de contenu : " a href="/contenu" { "pages de rédaction (message « " (CRISIS_PROMPT) " »)" } ", puis publication." }
        },
    ))
}

#[derive(Deserialize)]
pub struct SetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    state: String,
}

/// `POST /supervision/interrupteurs`: one switch on or off, the others kept.
pub async fn set(State(state): State<AppState>, user: Authed, Form(form): Form<SetForm>) -> Result<Response, ConsoleError> {
    user.require(ROLES)?;
    user.check_csrf(&form.csrf)?;
    let on = match form.state.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(ConsoleError::NotFound),
    };
    let store = state.store()?;
    let before = store.switch_state().await?.flags;
    let after = with(before, &form.name, on).ok_or(ConsoleError::NotFound)?;
    // Audited first: a change that cannot be audited is not made.
    audit(&state, user.name(), "switch-set", "switches", &describe(after)).await?;
    store.set_switches(after, user.name(), state.now()).await?;
    tracing::info!(by = user.name(), switches = %describe(after), "switches set from the console");
    Ok(Redirect::to("/supervision/interrupteurs").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crisis_text_is_read_from_its_table_only() {
        let file = "[saturation]\ntext = \"plein\"\n\n[crisis]\n# comment\ntext = \"Information \\\"importante\\\"\"\ninterruptible = false\n[goodbye]\ntext = \"au revoir\"\n";
        assert_eq!(prompt_text(file, "crisis").as_deref(), Some("Information \"importante\""));
        assert_eq!(prompt_text(file, "missing"), None);
        let real = include_str!("../../../../prompts/prompts.toml");
        assert!(prompt_text(real, CRISIS_PROMPT).is_some_and(|t| t.contains("exceptionnel")), "the shipped prompts have a crisis text");
    }

    #[test]
    fn one_switch_changes_and_unknown_names_are_refused() {
        let f = with(SwitchFlags::default(), "crisis", true).unwrap();
        assert_eq!(describe(f), "saturation=off crisis=on closed=off");
        assert!(with(f, "crisi", true).is_none());
    }
}
