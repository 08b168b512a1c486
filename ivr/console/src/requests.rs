//! The agents' work queue of procedure requests (call-back for non-allocataires,
//! attestation de non-paiement): list, open one, mark it handled. Roles `agent` and
//! `supervisor`.
//!
//! The list shows no personal data (kind, time, flow, topic, status). Opening a request
//! shows what the caller keyed and said: that read is written to the audit log before the
//! page is sent. Nothing of a request's content is logged or audited, only its number.

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use ivr_accounting::{Request, RequestFilter, RequestKind, RequestStatus, Role};
use maud::html;
use serde::Deserialize;

use crate::auth::CsrfForm;
use crate::pages::{layout, paris};
use crate::{audit, AppState, Authed, ConsoleError};

const ROLES: &[Role] = &[Role::Agent, Role::Supervisor];

fn kind_fr(k: RequestKind) -> &'static str {
    match k {
        RequestKind::Rappel => "Demande de rappel",
        RequestKind::AttestationNonPaiement => "Attestation de non-paiement",
    }
}

/// The matcher's topic as agents read it (`@none`: a question outside the catalogue).
pub(crate) fn topic_fr(topic: Option<&str>) -> &str {
    match topic {
        None => "—",
        Some("@none") => "hors catalogue",
        Some("@agent") => "demande un conseiller",
        Some(t) => t,
    }
}

fn status_fr(s: RequestStatus) -> &'static str {
    match s {
        RequestStatus::New => "à traiter",
        RequestStatus::Handled => "traitée",
        RequestStatus::Purged => "purgée",
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    /// `nouvelles` (default), `traitees`, `purgees`, `toutes`.
    #[serde(default)]
    statut: Option<String>,
}

pub async fn list(State(state): State<AppState>, user: Authed, Query(q): Query<ListQuery>) -> Result<Html<String>, ConsoleError> {
    user.require(ROLES)?;
    let statut = q.statut.as_deref().unwrap_or("nouvelles");
    let status = match statut {
        "traitees" => Some(RequestStatus::Handled),
        "purgees" => Some(RequestStatus::Purged),
        "toutes" => None,
        _ => Some(RequestStatus::New),
    };
    let rows = state.store()?.requests(&RequestFilter { status, limit: Some(500), ..Default::default() }).await?;
    let options = [("nouvelles", "À traiter"), ("traitees", "Traitées"), ("purgees", "Purgées"), ("toutes", "Toutes")];
    Ok(layout(
        "Demandes",
        Some(&user),
        html! {
            form method="get" action="/demandes" class="filters" {
                div class="stack" {
                    label for="statut" { "Statut" }
                    select id="statut" name="statut" {
                        @for (v, label) in options {
                            option value=(v) selected[v == statut] { (label) }
                        }
                    }
                }
                button type="submit" { "Afficher" }
            }
            @if rows.is_empty() {
                p { "Aucune demande." }
            } @else {
                table {
                    caption { (rows.len()) " demande(s), les plus récentes d'abord" }
                    thead { tr {
                        th scope="col" { "N°" } th scope="col" { "Type" } th scope="col" { "Reçue le (Paris)" }
                        th scope="col" { "Parcours" } th scope="col" { "Thème" } th scope="col" { "Statut" }
                    } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { a href={ "/demandes/" (r.id) } { "Demande " (r.id) } }
                                td { (kind_fr(r.kind)) }
                                td { (paris(r.created_at)) }
                                td { "choix " (r.flow.number()) }
                                td { (topic_fr(r.topic.as_deref())) }
                                td { (status_fr(r.status)) }
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn detail(user: &Authed, r: &Request) -> Html<String> {
    layout(
        &format!("Demande {}", r.id),
        Some(user),
        html! {
            dl {
                dt { "Type" } dd { (kind_fr(r.kind)) }
                dt { "Reçue le (Paris)" } dd { (paris(r.created_at)) }
                dt { "Parcours" } dd { "choix " (r.flow.number()) }
                dt { "Thème de la question" } dd { (topic_fr(r.topic.as_deref())) }
                dt { "Chiffres saisis" } dd { (r.keyed.as_deref().filter(|k| !k.is_empty()).unwrap_or("—")) }
                dt { "Ce qu'a dit l'appelant" } dd { (r.transcript.as_deref().filter(|t| !t.is_empty()).unwrap_or("—")) }
                dt { "Statut" } dd { (status_fr(r.status)) }
                @if let (Some(at), Some(by)) = (r.handled_at, &r.handled_by) {
                    dt { "Traitée" } dd { "le " (paris(at)) " par " (by) }
                }
                dt { "Identifiant d'appel" } dd { (r.call_id) }
            }
            @if r.status == RequestStatus::New {
                form method="post" action={ "/demandes/" (r.id) "/traitee" } {
                    input type="hidden" name="csrf" value=(user.csrf);
                    button type="submit" { "Marquer comme traitée" }
                }
            }
            p { a href="/demandes" { "Retour à la liste" } }
        },
    )
}

pub async fn show(State(state): State<AppState>, user: Authed, Path(id): Path<i64>) -> Result<Html<String>, ConsoleError> {
    user.require(ROLES)?;
    let Some(r) = state.store()?.request(id).await? else {
        return Err(ConsoleError::NotFound);
    };
    // The read is audited before anything is shown.
    audit(&state, user.name(), "request-open", &format!("request:{id}"), kind_fr(r.kind)).await?;
    Ok(detail(&user, &r))
}

pub async fn mark_handled(State(state): State<AppState>, user: Authed, Path(id): Path<i64>, Form(form): Form<CsrfForm>) -> Result<Response, ConsoleError> {
    user.require(ROLES)?;
    user.check_csrf(&form.csrf)?;
    let done = state.store()?.mark_request_handled(id, user.name(), state.now()).await?;
    if !done {
        if state.store()?.request(id).await?.is_none() {
            return Err(ConsoleError::NotFound);
        }
        // Already handled or purged: nothing changed, the page shows its state.
        return Ok(Redirect::to(&format!("/demandes/{id}")).into_response());
    }
    audit(&state, user.name(), "request-handled", &format!("request:{id}"), "").await?;
    Ok(Redirect::to("/demandes").into_response())
}
