//! `/contenu/questions`: the inbox of questions the bot could not answer (`@none`), grouped
//! by similarity, largest group first, each with the draft matcher's best guesses; and the
//! actions on a group: add it as a phrasing of a topic (then edit that topic), add it to
//! the out-of-scope phrasings (`@none`), or ignore it. Handled groups leave the inbox;
//! the same question asked again after the mark comes back.
//!
//! Transcripts are personal data: each display of the inbox is written to the audit log,
//! nothing of their text goes to a log line or to the audit detail, and they disappear
//! with the accounting's transcript retention. The weekly count (ISO weeks) shows whether
//! the inbox shrinks.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use ivr_accounting::report::Period;
use ivr_accounting::{paris_day, InboxMark, InboxStatus, UnansweredQuestion};
use maud::html;
use nlu::Matcher;
use serde::Deserialize;

use super::checked;
use super::grouping::{self, Group};
use super::topic_file;
use super::working::{nothing_published, open_draft, today, topic_path, valid_slug, Working, NONE_PATH};
use super::{subnav, EDIT};
use crate::pages::{layout, paris};
use crate::{audit, AppState, Authed, ConsoleError};

/// Weeks of the weekly count (and of the questions read).
const WEEKS: i64 = 8;
/// Best guesses shown per group.
const GUESSES: usize = 3;

/// ISO week label ("2026-W49") of an instant, in Paris.
fn week_of(t: DateTime<Utc>) -> String {
    Period::Week.label(paris_day(t))
}

/// The labels of the last `WEEKS` ISO weeks, oldest first.
fn last_weeks(now: DateTime<Utc>) -> Vec<String> {
    (0..WEEKS).rev().map(|w| week_of(now - chrono::Duration::weeks(w))).collect()
}

/// The best guesses of `matcher` for `text`: (topic slug, score).
fn guesses(matcher: &Matcher, text: &str) -> Vec<(String, f32)> {
    match matcher.rank(text) {
        Ok(r) => r.ranked.into_iter().filter(|(i, _)| !i.starts_with('@')).take(GUESSES).collect(),
        Err(_) => Vec::new(),
    }
}

pub async fn page(State(state): State<AppState>, user: Authed) -> Result<Response, ConsoleError> {
    user.require(EDIT)?;
    let store = state.store()?;
    let working = Working::load(&state).await?;
    let Some(snap) = working.current() else {
        return Ok(nothing_published(&user).into_response());
    };
    let now = state.now();
    let from = now - chrono::Duration::weeks(WEEKS);
    let questions = store.unanswered_questions(from, now + chrono::Duration::seconds(1)).await?;
    let marks: HashMap<String, InboxMark> = store.inbox_marks().await?.into_iter().map(|m| (m.text_key.clone(), m)).collect();
    // The read of transcripts is audited before anything is shown (DESIGN §8).
    audit(&state, user.name(), "inbox-read", "inbox", &format!("{} question(s)", questions.len())).await?;

    let mut weekly: BTreeMap<String, u64> = last_weeks(now).into_iter().map(|w| (w, 0)).collect();
    for q in &questions {
        if let Some(n) = weekly.get_mut(&week_of(q.at)) {
            *n += 1;
        }
    }
    let max_week = weekly.values().copied().max().unwrap_or(0).max(1);
    // Questions with their words, not covered by a mark made after them.
    let open: Vec<&UnansweredQuestion> = questions
        .iter()
        .filter(|q| q.transcript.as_deref().is_some_and(|t| !t.trim().is_empty()))
        .filter(|q| {
            let key = grouping::text_key(&grouping::normalize(q.transcript.as_deref().unwrap_or("")));
            marks.get(&key).is_none_or(|m| q.at > m.at)
        })
        .collect();
    let groups = grouping::group(open, |q| q.transcript.as_deref().unwrap_or(""));
    let checked = checked::check(snap, today(&state)).await?;
    let matcher = checked::matcher(&checked).await?;
    let shown: Vec<Group<&UnansweredQuestion>> = groups.into_iter().take(100).collect();
    let texts: Vec<String> = shown.iter().map(|g| representative(g)).collect();
    let all_guesses: Vec<Vec<(String, f32)>> = match &matcher {
        Some(m) => {
            let m = Arc::clone(m);
            let t = texts.clone();
            tokio::task::spawn_blocking(move || t.iter().map(|x| guesses(&m, x)).collect()).await.map_err(|e| ConsoleError::Internal(e.to_string()))?
        }
        None => vec![Vec::new(); texts.len()],
    };
    let mut topics: Vec<(String, String)> =
        snap.topic_files().map(|(slug, text)| (slug.to_string(), topic_file::read(text).map(|f| f.title).unwrap_or_default())).collect();
    topics.sort_by(|a, b| a.1.cmp(&b.1));
    let handled = marks.len();
    Ok(layout(
        "Questions sans réponse",
        Some(&user),
        html! {
            (subnav(&user))
            p {
                "Questions auxquelles le robot n'a pas su répondre (" code { "@none" } ") ces " (WEEKS) " dernières semaines, regroupées par ressemblance. "
                "Les transcriptions sont effacées à la fin de leur durée de conservation. " (handled) " groupe(s) déjà traité(s)."
            }
            table class="weekly" {
                caption { "Questions sans réponse par semaine (ISO)" }
                thead { tr { th scope="col" { "Semaine" } th scope="col" { "Questions" } th scope="col" { span class="visually-hidden" { "Graphique" } } } }
                tbody {
                    @for (w, n) in &weekly {
                        tr { th scope="row" { (w) } td { (n) } td { meter min="0" max=(max_week) value=(n) { (n) } } }
                    }
                }
            }
            @if shown.is_empty() {
                p class="ok" role="status" { "Aucune question en attente." }
            }
            @for ((g, text), guess) in shown.iter().zip(&texts).zip(&all_guesses) {
                @let best = guess.first().map(|(s, _)| s.as_str()).unwrap_or("");
                @let keys = g.keys().join(",");
                @let id = &g.keys()[0][..12];
                section class="group" aria-labelledby={ "g-" (id) } {
                    h2 id={ "g-" (id) } { "« " (text) " » — " (g.items.len()) " fois" }
                    details {
                        summary { "Les questions du groupe" }
                        table {
                            thead { tr { th scope="col" { "Date (Paris)" } th scope="col" { "Parcours" } th scope="col" { "Transcription" } } }
                            tbody {
                                @for q in &g.items {
                                    tr { td { (paris(q.at)) } td { "choix " (q.flow.number()) } td { (q.transcript.as_deref().unwrap_or("")) } }
                                }
                            }
                        }
                    }
                    p {
                        "Meilleures hypothèses du brouillon : "
                        @if guess.is_empty() { "aucune" }
                        @for (i, (slug, score)) in guess.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={ "/contenu/sujet/" (slug) } { (slug) } " (" (format!("{score:.2}")) ")"
                        }
                    }
                    form method="post" action="/contenu/questions/marquer" class="filters" {
                        input type="hidden" name="csrf" value=(user.csrf);
                        input type="hidden" name="keys" value=(keys);
                        div class="stack" {
                            label for={ "t-" (id) } { "Formulation" }
                            input id={ "t-" (id) } name="text" type="text" maxlength="300" value=(text);
                        }
                        div class="stack" {
                            label for={ "s-" (id) } { "Sujet" }
                            select id={ "s-" (id) } name="topic" {
                                @for (slug, title) in &topics {
                                    option value=(slug) selected[slug == best] { (title) }
                                }
                            }
                        }
                        button type="submit" name="action" value="formulation" { "Ajouter comme formulation" }
                        button type="submit" name="action" value="hors-perimetre" class="secondary" { "Hors périmètre" }
                        button type="submit" name="action" value="ignorer" class="secondary" { "Ignorer" }
                    }
                }
            }
        },
    )
    .into_response())
}

/// The most frequent transcript of the group's main form, as said.
fn representative(g: &Group<&UnansweredQuestion>) -> String {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for q in &g.items {
        let t = q.transcript.as_deref().unwrap_or("").trim();
        if grouping::normalize(t) == g.normalized {
            *count.entry(t).or_default() += 1;
        }
    }
    count.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0))).map(|(t, _)| t.to_string()).unwrap_or_default()
}

#[derive(Deserialize, Default)]
pub struct MarkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    keys: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    text: String,
}

pub async fn mark(State(state): State<AppState>, user: Authed, Form(form): Form<MarkForm>) -> Result<Response, ConsoleError> {
    user.require(EDIT)?;
    user.check_csrf(&form.csrf)?;
    let keys: Vec<&str> = form.keys.split(',').map(str::trim).filter(|k| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit())).collect();
    if keys.is_empty() {
        return Err(ConsoleError::NotFound);
    }
    let text = form.text.trim().chars().take(300).collect::<String>();
    let now = state.now();
    let (status, topic, path) = match form.action.as_str() {
        "formulation" if valid_slug(&form.topic) => (InboxStatus::Phrasing, Some(form.topic.clone()), Some(topic_path(&form.topic))),
        "hors-perimetre" => (InboxStatus::OutOfScope, None, Some(NONE_PATH.to_string())),
        "ignorer" => (InboxStatus::Ignored, None, None),
        _ => return Err(ConsoleError::NotFound),
    };
    if let Some(path) = &path {
        if text.is_empty() {
            return Ok(Redirect::to("/contenu/questions").into_response());
        }
        let Some((_lock, mut draft)) = open_draft(&state, user.name()).await? else {
            return Ok(nothing_published(&user).into_response());
        };
        let Some(file) = draft.snapshot.files.get(path) else {
            return Err(ConsoleError::NotFound);
        };
        let updated = topic_file::add_example(file, &text).map_err(ConsoleError::Internal)?;
        draft.snapshot.files.insert(path.clone(), updated);
        state.store()?.save_content_draft(&draft).await?;
    }
    let store = state.store()?;
    for k in &keys {
        store.mark_inbox(&InboxMark { text_key: k.to_string(), status, topic: topic.clone(), by: user.name().to_string(), at: now }).await?;
    }
    // The audit names the decision and the group's keys, never the caller's words.
    let target = topic.as_deref().map_or_else(|| "inbox".to_string(), |t| format!("topic:{t}"));
    audit(&state, user.name(), &format!("inbox-{}", status.as_str()), &target, &format!("{} group key(s), first {}", keys.len(), &keys[0][..12])).await?;
    match (status, topic) {
        (InboxStatus::Phrasing, Some(t)) => Ok(Redirect::to(&format!("/contenu/sujet/{t}?enregistre=1")).into_response()),
        _ => Ok(Redirect::to("/contenu/questions").into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn eight_iso_weeks_oldest_first() {
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap();
        let w = last_weeks(now);
        assert_eq!(w.len(), 8);
        assert_eq!(w.last().map(String::as_str), Some("2026-W49"));
        assert_eq!(w.first().map(String::as_str), Some("2026-W42"));
    }
}
