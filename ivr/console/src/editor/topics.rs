//! `/contenu`: the topics of the draft (or of the published version when there is no
//! draft), each with its reviewed date (flagged when stale) and the figures of its answer
//! over the last 30 days, computed by the same code as `ivr report` (per-topic figures of
//! [`ivr_accounting::report`]).

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Html;
use chrono::NaiveDate;
use ivr_accounting::paris_day;
use ivr_accounting::report::{self, Period, TopicFigures};
use maud::html;

use super::topic_file;
use super::working::{nothing_published, Working};
use super::{subnav, EDIT, READ};
use crate::pages::layout;
use crate::{AppState, Authed, ConsoleError};

/// Days of figures shown next to each topic.
const FIGURE_DAYS: u64 = 30;

pub(crate) fn percent(r: Option<f64>) -> String {
    match r {
        Some(r) => format!("{:.0} %", r * 100.0),
        None => "—".into(),
    }
}

pub(crate) fn action_fr(a: &str) -> &str {
    match a {
        "answer" => "réponse",
        "transfer" => "transfert",
        "redirect-choix1" => "renvoi au choix 1",
        "procedure" => "démarche",
        other => other,
    }
}

/// The per-topic figures of the last 30 days (Paris days, today included).
pub(crate) async fn topic_figures(state: &AppState) -> Result<HashMap<String, TopicFigures>, ConsoleError> {
    let today = paris_day(state.now());
    let from = today - chrono::Days::new(FIGURE_DAYS - 1);
    let r = report::build(state.store()?, &state.accounting.sc32, from, today, Period::Month, None).await?;
    Ok(r.total.topics.into_iter().map(|t| (t.topic.clone(), t)).collect())
}

pub async fn list(State(state): State<AppState>, user: Authed) -> Result<Html<String>, ConsoleError> {
    user.require(READ)?;
    let working = Working::load(&state).await?;
    let Some(snap) = working.current() else {
        return Ok(nothing_published(&user));
    };
    let figures = topic_figures(&state).await?;
    let today = paris_day(state.now());
    let stale_days = i64::from(state.cfg.stale_after_days);
    let mut rows = Vec::new();
    for (slug, text) in snap.topic_files() {
        let f = topic_file::read(text).unwrap_or_else(|_| topic_file::TopicFields {
            slug: slug.to_string(),
            title: "(fichier illisible)".into(),
            ..Default::default()
        });
        let reviewed = NaiveDate::parse_from_str(&f.reviewed, "%Y-%m-%d").ok();
        let stale = reviewed.is_none_or(|d| (today - d).num_days() > stale_days);
        rows.push((slug.to_string(), f, stale));
    }
    let can_edit = EDIT.contains(&user.account.role);
    let title = if working.draft.is_some() { "Sujets (brouillon en cours)" } else { "Sujets" };
    Ok(layout(
        title,
        Some(&user),
        html! {
            (subnav(&user))
            @if let Some(d) = &working.draft {
                p class="notice" {
                    "Un brouillon est en cours (dernière modification par " (d.updated_by) " le " (crate::pages::paris(d.updated_at)) "). "
                    a href="/contenu/relecture" { "Relire les changements" }
                }
            }
            @if can_edit {
                p { a href="/contenu/nouveau" { "Nouveau sujet" } }
            }
            table class="topics" {
                caption { (rows.len()) " sujets ; chiffres des " (FIGURE_DAYS) " derniers jours ; relecture à refaire après " (stale_days) " jours" }
                thead { tr {
                    th scope="col" { "Sujet" } th scope="col" { "Parcours" } th scope="col" { "Action" }
                    th scope="col" { "Relu le" } th scope="col" { "Sources" }
                    th scope="col" { "Réponses jouées" } th scope="col" { "Écoute moyenne" }
                    th scope="col" { "Raccroché pendant" } th scope="col" { "Transféré après" }
                } }
                tbody {
                    @for (slug, f, stale) in &rows {
                        @let fig = figures.get(slug);
                        tr {
                            th scope="row" { a href={ "/contenu/sujet/" (slug) } { (f.title) } br; code class="slug" { (slug) } }
                            td class="nowrap" { "choix " (f.flow) }
                            td { (action_fr(&f.action)) }
                            td class="nowrap" {
                                (f.reviewed)
                                @if *stale { br; strong class="flag" { "à relire" } }
                            }
                            td class="sources" {
                                @for s in &f.sources {
                                    // Only web addresses become links (a source is typed by an editor).
                                    @if s.starts_with("https://") || s.starts_with("http://") {
                                        a href=(s) rel="noreferrer" { (source_label(s)) } br;
                                    } @else {
                                        (s) br;
                                    }
                                }
                            }
                            td { (fig.map_or(0, |x| x.answers)) }
                            td { (percent(fig.and_then(|x| x.avg_heard_ratio))) }
                            td { (percent(fig.and_then(|x| x.hangup_during_answer_rate))) }
                            td { (percent(fig.and_then(|x| x.transfer_after_answer_rate))) }
                        }
                    }
                }
            }
        },
    ))
}

/// The host of a source address, shorter in a table cell.
fn source_label(url: &str) -> &str {
    url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or(url)
}
