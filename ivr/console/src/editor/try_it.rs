//! `/contenu/essayer`: a typed question put to the draft's matcher and to the published
//! version's, side by side: the intent, its score, the runner-up, what the bot would do
//! (answer, clarify between two topics, not understood, transfer) and the answer's text.
//! The decision is the matcher's own (`Matcher::classify`, as `ivr classify` prints it and
//! the dialogue receives it).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use ivr_accounting::ContentSnapshot;
use maud::{html, Markup};
use nlu::Decision;
use serde::Deserialize;

use super::checked;
use super::topic_file;
use super::working::{nothing_published, today, topic_path, Working};
use super::{subnav, EDIT};
use crate::pages::layout;
use crate::{AppState, Authed, ConsoleError};

#[derive(Deserialize, Default)]
pub struct TryQuery {
    #[serde(default)]
    q: String,
}

/// What the bot does with a decision, in the editors' words.
pub(crate) fn decision_fr(action: &str) -> &str {
    match action {
        "answer" => "répond avec la fiche",
        "transfer" => "transfère vers un conseiller",
        "redirect-choix1" => "renvoie vers le choix 1 du 3230",
        "procedure" => "lance la démarche",
        "clarify" => "demande de choisir entre deux sujets",
        "fallback" => "n'a pas compris (@none) : demande de reformuler",
        other => other,
    }
}

/// The decision of `snap`'s matcher for `q`, with the answer text of its topic.
async fn decide(state: &AppState, snap: &ContentSnapshot, q: &str) -> Result<Option<(Decision, String)>, ConsoleError> {
    let checked = checked::check(snap, today(state)).await?;
    let Some(matcher) = checked::matcher(&checked).await? else {
        return Ok(None);
    };
    let text = q.to_string();
    let m = Arc::clone(&matcher);
    let decision = tokio::task::spawn_blocking(move || m.classify(&text))
        .await
        .map_err(|e| ConsoleError::Internal(e.to_string()))?
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let answer = snap.files.get(&topic_path(&decision.intent)).and_then(|t| topic_file::read(t).ok()).map(|f| f.answer).unwrap_or_default();
    Ok(Some((decision, answer)))
}

fn column(title: &str, result: &Option<(Decision, String)>) -> Markup {
    html! {
        section class="try" {
            h2 { (title) }
            @match result {
                None => p class="error" { "Le contenu ne se charge pas : voyez les problèmes signalés à la relecture." },
                Some((d, answer)) => {
                    dl {
                        dt { "Sujet reconnu" } dd class="intent" { code { (d.intent) } }
                        dt { "Score" } dd { (format!("{:.3}", d.score)) }
                        dt { "Deuxième sujet" } dd {
                            @match &d.runner_up {
                                Some(r) => { code { (r.intent) } " (" (format!("{:.3}", r.score)) ")" }
                                None => "—",
                            }
                        }
                        dt { "Le robot" } dd class="decision" { (decision_fr(&d.action)) }
                    }
                    @if !answer.is_empty() && !d.intent.starts_with('@') {
                        p { "Réponse :" }
                        blockquote { (answer) }
                    }
                }
            }
        }
    }
}

pub async fn page(State(state): State<AppState>, user: Authed, Query(q): Query<TryQuery>) -> Result<Response, ConsoleError> {
    user.require(EDIT)?;
    let working = Working::load(&state).await?;
    let Some(current) = working.current() else {
        return Ok(nothing_published(&user).into_response());
    };
    let question = q.q.trim().chars().take(500).collect::<String>();
    let (draft, published) = if question.is_empty() {
        (None, None)
    } else {
        let draft = decide(&state, current, &question).await?;
        let published = match working.published_snapshot() {
            Some(p) => decide(&state, p, &question).await?,
            None => None,
        };
        (Some(draft), Some(published))
    };
    Ok(layout(
        "Essayer une question",
        Some(&user),
        html! {
            (subnav(&user))
            form method="get" action="/contenu/essayer" class="filters" {
                div class="stack wide" {
                    label for="q" { "Question, comme un appelant la dirait" }
                    input id="q" name="q" type="text" value=(question) autofocus;
                }
                button type="submit" { "Essayer" }
            }
            @if let (Some(d), Some(p)) = (&draft, &published) {
                div class="columns" {
                    (column(if working.draft.is_some() { "Brouillon" } else { "Version publiée (pas de brouillon)" }, d))
                    (column("Version publiée", p))
                }
            }
        },
    )
    .into_response())
}
