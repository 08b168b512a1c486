//! `/supervision/calendrier`: the opening hours and public holidays in force (this year and
//! next, computed by the service's own calendar), and the exceptional closures, added and
//! removed here. Every instance reads the closures within a second or so: on a closure day
//! the closed message plays all day.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{Datelike, NaiveDate};
use ivr_accounting::supervision::CLOSURE_LABEL_MAX;
use ivr_dialogue::hours::{named_holidays, OpeningHours};
use maud::html;
use serde::Deserialize;

use super::{tabs, ROLES};
use crate::auth::CsrfForm;
use crate::pages::{layout, paris};
use crate::{audit, AppState, Authed, ConsoleError};

fn day_fr(d: NaiveDate) -> String {
    const DAYS: [&str; 7] = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"];
    format!("{} {}", DAYS[d.weekday().num_days_from_monday() as usize], d.format("%d/%m/%Y"))
}

fn range_fr(first: NaiveDate, last: NaiveDate) -> String {
    if first == last {
        day_fr(first)
    } else {
        format!("du {} au {}", day_fr(first), day_fr(last))
    }
}

fn page_html(user: &Authed, closures: &[ivr_accounting::Closure], today: NaiveDate, error: Option<&str>) -> Html<String> {
    let hours = OpeningHours::default();
    let years = [today.year(), today.year() + 1];
    layout(
        "Calendrier d'ouverture",
        Some(user),
        html! {
            (tabs("/supervision/calendrier"))
            h2 { "Horaires" }
            p { "Du lundi au vendredi, de " (hours.open.format("%H:%M")) " à " (hours.close.format("%H:%M")) " (heure de Paris), sauf jours fériés et fermetures exceptionnelles. En dehors, le message de fermeture est diffusé." }
            h2 id="fermetures" { "Fermetures exceptionnelles" }
            @if let Some(e) = error {
                p class="error" role="alert" { (e) }
            }
            @if closures.is_empty() {
                p { "Aucune fermeture exceptionnelle à venir." }
            } @else {
                table {
                    caption { "Fermetures à venir ou en cours" }
                    thead { tr { th scope="col" { "Jours" } th scope="col" { "Motif" } th scope="col" { "Ajoutée" } th scope="col" { "Action" } } }
                    tbody {
                        @for c in closures {
                            tr {
                                td { (range_fr(c.first, c.last)) }
                                td { (c.label) }
                                td { "le " (paris(c.created_at)) " par " (c.created_by) }
                                td {
                                    form method="post" action={ "/supervision/calendrier/fermetures/" (c.id) "/suppression" } {
                                        input type="hidden" name="csrf" value=(user.csrf);
                                        button type="submit" { "Supprimer" span class="visually-hidden" { " la fermeture " (range_fr(c.first, c.last)) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form method="post" action="/supervision/calendrier/fermetures" class="filters" {
                input type="hidden" name="csrf" value=(user.csrf);
                div class="stack" {
                    label for="first" { "Premier jour" }
                    input id="first" name="first" type="date" required;
                }
                div class="stack" {
                    label for="last" { "Dernier jour (facultatif)" }
                    input id="last" name="last" type="date";
                }
                div class="stack" {
                    label for="label" { "Motif" }
                    input id="label" name="label" type="text" maxlength=(CLOSURE_LABEL_MAX) required placeholder="Pont, inventaire, intempéries…";
                }
                button type="submit" { "Ajouter la fermeture" }
            }
            h2 { "Jours fériés" }
            @for year in years {
                table {
                    caption { "Jours fériés " (year) " (fermé toute la journée)" }
                    thead { tr { th scope="col" { "Date" } th scope="col" { "Jour férié" } } }
                    tbody {
                        @for (d, name) in named_holidays(year, hours.alsace_moselle) {
                            tr class=[(d < today).then_some("past")] { td { (day_fr(d)) } td { (name) } }
                        }
                    }
                }
            }
        },
    )
}

fn today(state: &AppState) -> NaiveDate {
    ivr_accounting::paris_day(state.now())
}

/// `GET /supervision/calendrier`.
pub async fn page(State(state): State<AppState>, user: Authed) -> Result<Html<String>, ConsoleError> {
    user.require(ROLES)?;
    let today = today(&state);
    let closures = state.store()?.closures(Some(today)).await?;
    Ok(page_html(&user, &closures, today, None))
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    first: String,
    #[serde(default)]
    last: String,
    #[serde(default)]
    label: String,
}

/// `POST /supervision/calendrier/fermetures`.
pub async fn add(State(state): State<AppState>, user: Authed, Form(form): Form<AddForm>) -> Result<Response, ConsoleError> {
    user.require(ROLES)?;
    user.check_csrf(&form.csrf)?;
    let parse = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    let today = today(&state);
    let first = parse(&form.first);
    let last = if form.last.trim().is_empty() { first } else { parse(&form.last) };
    let label = form.label.trim();
    let problem = match (first, last) {
        (None, _) | (_, None) => Some("Date invalide : utilisez le format AAAA-MM-JJ."),
        (Some(f), Some(l)) if f.max(l) < today => Some("Cette fermeture est entièrement passée."),
        (Some(f), Some(l)) if (f - l).num_days().abs() > 366 => Some("Une fermeture ne peut pas dépasser un an."),
        _ if label.is_empty() => Some("Indiquez le motif de la fermeture."),
        _ => None,
    };
    let (Some(first), Some(last), None) = (first, last, problem) else {
        let closures = state.store()?.closures(Some(today)).await?;
        let page = page_html(&user, &closures, today, problem);
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let (first, last) = if last < first { (last, first) } else { (first, last) };
    audit(&state, user.name(), "closure-add", &format!("closure:{first}..{last}"), label).await?;
    let id = state.store()?.add_closure(first, last, label, user.name(), state.now()).await?;
    tracing::info!(by = user.name(), id, %first, %last, "exceptional closure added");
    Ok(Redirect::to("/supervision/calendrier#fermetures").into_response())
}

/// `POST /supervision/calendrier/fermetures/{id}/suppression`.
pub async fn remove(State(state): State<AppState>, user: Authed, Path(id): Path<i64>, Form(form): Form<CsrfForm>) -> Result<Response, ConsoleError> {
    user.require(ROLES)?;
    user.check_csrf(&form.csrf)?;
    let store = state.store()?;
    let Some(c) = store.closures(None).await?.into_iter().find(|c| c.id == id) else {
        return Err(ConsoleError::NotFound);
    };
    audit(&state, user.name(), "closure-remove", &format!("closure:{}..{}", c.first, c.last), &c.label).await?;
    store.remove_closure(id).await?;
    tracing::info!(by = user.name(), id, "exceptional closure removed");
    Ok(Redirect::to("/supervision/calendrier#fermetures").into_response())
}
