//! Review and publication (`/contenu/relecture`, `/contenu/publier`), the history of
//! versions (`/contenu/historique`, `/contenu/version/{id}`) and rollback
//! (`/contenu/version/{id}/retablir`).
//!
//! Publishing checks the draft with the same checker as `ivr serve`, refuses it with the
//! checker's messages when it has problems, otherwise stores it as a new immutable version,
//! publishes it (the service reloads it), drops the draft and audits `content-publish`.
//! A rollback publishes a new version holding an older version's snapshot (the history is
//! never rewritten) and audits `content-rollback`.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use ivr_accounting::ContentSnapshot;
use maud::{html, Markup};
use serde::Deserialize;

use super::checked;
use super::diff;
use super::working::{draft_lock, nothing_published, today, Working};
use super::{subnav, EDIT, PUBLISH, READ};
use crate::pages::{layout, paris};
use crate::{audit, AppState, Authed, ConsoleError};

#[derive(Deserialize, Default)]
pub struct PublishForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

fn problems_block(messages: &[String]) -> Markup {
    html! {
        div class="error" role="alert" id="problemes" {
            p { strong { "Le brouillon ne peut pas être publié : le vérificateur signale " (messages.len()) " problème(s)." } }
            ul { @for m in messages { li { (m) } } }
        }
    }
}

/// The review page; `refused` holds the checker's messages of a refused publication.
async fn review_page(state: &AppState, user: &Authed, refused: Option<&[String]>) -> Result<Response, ConsoleError> {
    let working = Working::load(state).await?;
    let Some(published) = working.published_snapshot() else {
        return Ok(nothing_published(user).into_response());
    };
    let can_publish = PUBLISH.contains(&user.account.role);
    let Some(draft) = &working.draft else {
        return Ok(layout(
            "Relecture et publication",
            Some(user),
            html! {
                (subnav(user))
                p { "Aucun brouillon en cours : le contenu publié est la version " (working.published_version().unwrap_or_default()) "." }
                p { "Modifiez un " a href="/contenu" { "sujet" } " pour commencer un brouillon." }
            },
        )
        .into_response());
    };
    let checked = checked::check(&draft.snapshot, today(state)).await?;
    let messages = checked.messages();
    let changes = diff::changes(published, &draft.snapshot);
    let stale_base = draft.base_version.is_some() && draft.base_version != working.published_version();
    let body = html! {
        (subnav(user))
        @if let Some(m) = refused {
            (problems_block(m))
        } @else if !messages.is_empty() {
            (problems_block(&messages))
        } @else {
            p class="ok" role="status" { "Le vérificateur ne signale aucun problème." }
        }
        @if stale_base {
            p class="error" role="alert" {
                "Attention : ce brouillon part de la version " (draft.base_version.unwrap_or_default())
                " alors que la version " (working.published_version().unwrap_or_default()) " est publiée depuis ; la publication remplacera tout le contenu par celui du brouillon."
            }
        }
        p { "Brouillon modifié en dernier par " (draft.updated_by) " le " (paris(draft.updated_at)) ", comparé à la version publiée " (working.published_version().unwrap_or_default()) "." }
        p {
            "Pour entendre le brouillon dans un vrai appel avant de le publier, appelez le service au poste "
            code { "brouillon" } " (réglage " code { "[content] draft_user" } ") : ces appels ne sont pas comptés."
        }
        h2 { "Changements" }
        (diff::render(&changes))
        @if can_publish {
            h2 { "Publier" }
            form method="post" action="/contenu/publier" class="stack" {
                input type="hidden" name="csrf" value=(user.csrf);
                label for="note" { "Note de version (ce qui change et pourquoi)" }
                textarea id="note" name="note" rows="3" required {}
                button type="submit" { "Publier le brouillon" }
            }
        } @else {
            p { "La publication est réservée au rôle publication." }
        }
        @if EDIT.contains(&user.account.role) {
            form method="post" action="/contenu/brouillon/abandonner" class="inline" {
                input type="hidden" name="csrf" value=(user.csrf);
                button type="submit" class="danger" { "Abandonner le brouillon" }
            }
        }
    };
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, layout("Relecture et publication", Some(user), body)).into_response())
}

pub async fn review(State(state): State<AppState>, user: Authed) -> Result<Response, ConsoleError> {
    user.require(EDIT)?;
    review_page(&state, &user, None).await
}

pub async fn publish(State(state): State<AppState>, user: Authed, Form(form): Form<PublishForm>) -> Result<Response, ConsoleError> {
    user.require(PUBLISH)?;
    user.check_csrf(&form.csrf)?;
    let store = state.store()?;
    let draft_guard = draft_lock().await;
    let Some(draft) = store.content_draft().await? else {
        return Ok(Redirect::to("/contenu/relecture").into_response());
    };
    // Nothing to publish: the draft says what already runs.
    if store.published_content().await?.is_some_and(|(_, v)| v.digest == draft.snapshot.digest()) {
        store.discard_content_draft().await?;
        audit(&state, user.name(), "content-draft-discard", "draft", "same as the published version").await?;
        return Ok(Redirect::to("/contenu/historique").into_response());
    }
    let checked = checked::check(&draft.snapshot, today(&state)).await?;
    let messages = checked.messages();
    if !messages.is_empty() {
        drop(draft_guard);
        audit(&state, user.name(), "content-publish-refused", "draft", &format!("{} problem(s)", messages.len())).await?;
        return review_page(&state, &user, Some(&messages)).await;
    }
    let note = form.note.trim().chars().take(1000).collect::<String>();
    let now = state.now();
    let id = store.create_content_version(&draft.snapshot, user.name(), &note, &[], now).await?;
    let publication = store.publish_content_version(id, user.name(), now).await?;
    store.discard_content_draft().await?;
    audit(&state, user.name(), "content-publish", &format!("version:{id}"), &format!("publication {}", publication.seq)).await?;
    Ok(Redirect::to(&format!("/contenu/version/{id}")).into_response())
}

#[derive(Deserialize, Default)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn discard(State(state): State<AppState>, user: Authed, Form(form): Form<CsrfOnly>) -> Result<Response, ConsoleError> {
    user.require(EDIT)?;
    user.check_csrf(&form.csrf)?;
    let _draft = draft_lock().await;
    state.store()?.discard_content_draft().await?;
    audit(&state, user.name(), "content-draft-discard", "draft", "").await?;
    Ok(Redirect::to("/contenu").into_response())
}

pub async fn history(State(state): State<AppState>, user: Authed) -> Result<Html<String>, ConsoleError> {
    user.require(READ)?;
    let store = state.store()?;
    let versions = store.content_versions(200).await?;
    let publications = store.publications(500).await?;
    let current = store.published_content().await?.map(|(_, v)| v.id);
    let instances = store.instance_contents().await?;
    let mut published_at: HashMap<i64, Vec<String>> = HashMap::new();
    for p in &publications {
        published_at.entry(p.version).or_default().push(format!("{} par {}", paris(p.at), p.by));
    }
    let lagging: Vec<_> = instances.iter().filter(|i| !i.ok || Some(i.version) != current).collect();
    Ok(layout(
        "Historique du contenu",
        Some(&user),
        html! {
            (subnav(&user))
            @if !lagging.is_empty() {
                div class="error" role="alert" id="instances-alerte" {
                    p { strong { "Une ou plusieurs instances ne jouent pas la version publiée :" } }
                    ul {
                        @for i in &lagging {
                            li {
                                (i.instance) " : version " (i.version)
                                @if !i.ok { " — échec du chargement : " (i.detail) }
                            }
                        }
                    }
                }
            }
            h2 { "Instances du service" }
            @if instances.is_empty() {
                p { "Aucune instance n'a encore signalé la version qu'elle joue." }
            } @else {
                table {
                    caption { "Version chargée par chaque instance" }
                    thead { tr { th scope="col" { "Instance" } th scope="col" { "Version" } th scope="col" { "État" } th scope="col" { "Signalé le (Paris)" } } }
                    tbody {
                        @for i in &instances {
                            tr {
                                th scope="row" { (i.instance) }
                                td { a href={ "/contenu/version/" (i.version) } { (i.version) } }
                                td { @if i.ok { "chargée" } @else { "échec : " (i.detail) } }
                                td { (paris(i.at)) }
                            }
                        }
                    }
                }
            }
            h2 { "Versions" }
            table {
                caption { (versions.len()) " version(s), la plus récente d'abord" }
                thead { tr {
                    th scope="col" { "Version" } th scope="col" { "Créée le (Paris)" } th scope="col" { "Auteur" }
                    th scope="col" { "Note" } th scope="col" { "Publication" }
                } }
                tbody {
                    @for v in &versions {
                        tr class=[(Some(v.id) == current).then_some("current")] {
                            th scope="row" { a href={ "/contenu/version/" (v.id) } { "Version " (v.id) } }
                            td { (paris(v.created_at)) }
                            td { (v.author) }
                            td { (v.note) }
                            td {
                                @if Some(v.id) == current { strong { "publiée actuellement" } br; }
                                @for p in published_at.get(&v.id).into_iter().flatten() { "publiée le " (p) br; }
                                @if !v.problems.is_empty() { "non publiable (" (v.problems.len()) " problème(s))" }
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// The version before `id` (the next lower id), with its snapshot.
async fn previous(state: &AppState, id: i64) -> Result<Option<(i64, ContentSnapshot)>, ConsoleError> {
    let store = state.store()?;
    let ids: Vec<i64> = store.content_versions(10_000).await?.into_iter().map(|v| v.id).filter(|v| *v < id).collect();
    match ids.into_iter().max() {
        Some(p) => Ok(store.content_version(p).await?.map(|(v, s)| (v.id, s))),
        None => Ok(None),
    }
}

pub async fn version(State(state): State<AppState>, user: Authed, Path(id): Path<i64>) -> Result<Html<String>, ConsoleError> {
    user.require(READ)?;
    let store = state.store()?;
    let Some((v, snap)) = store.content_version(id).await? else {
        return Err(ConsoleError::NotFound);
    };
    let current = store.published_content().await?.map(|(_, v)| v.id);
    let prev = previous(&state, id).await?;
    let changes = prev.as_ref().map(|(_, s)| diff::changes(s, &snap));
    Ok(layout(
        &format!("Version {id}"),
        Some(&user),
        html! {
            (subnav(&user))
            dl {
                dt { "Créée le (Paris)" } dd { (paris(v.created_at)) }
                dt { "Auteur" } dd { (v.author) }
                dt { "Note" } dd { (v.note) }
                dt { "Publication" } dd {
                    @if Some(id) == current { strong { "publiée actuellement" } }
                    @else if let Some(at) = v.first_published_at { "publiée une première fois le " (paris(at)) ", plus en service" }
                    @else { "jamais publiée" }
                }
                dt { "Empreinte" } dd { code { (&v.digest[..v.digest.len().min(16)]) } }
            }
            @if !v.problems.is_empty() {
                (problems_block(&v.problems))
            }
            @if PUBLISH.contains(&user.account.role) && Some(id) != current && v.problems.is_empty() {
                form method="post" action={ "/contenu/version/" (id) "/retablir" } class="stack" {
                    input type="hidden" name="csrf" value=(user.csrf);
                    p { "Rétablir crée une nouvelle version identique à celle-ci et la publie." }
                    button type="submit" { "Rétablir cette version" }
                }
            }
            @match (&prev, &changes) {
                (Some((p, _)), Some(c)) => {
                    h2 { "Changements depuis la version " (p) }
                    (diff::render(c))
                }
                _ => p { "Première version : rien à comparer." },
            }
        },
    ))
}

pub async fn rollback(State(state): State<AppState>, user: Authed, Path(id): Path<i64>, Form(form): Form<CsrfOnly>) -> Result<Response, ConsoleError> {
    user.require(PUBLISH)?;
    user.check_csrf(&form.csrf)?;
    let store = state.store()?;
    let Some((old, snap)) = store.content_version(id).await? else {
        return Err(ConsoleError::NotFound);
    };
    if !old.problems.is_empty() {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, layout("Rétablissement refusé", Some(&user), html! { (problems_block(&old.problems)) })).into_response());
    }
    let now = state.now();
    let new_id = store.create_content_version(&snap, user.name(), &format!("Retour à la version {id}"), &[], now).await?;
    let publication = store.publish_content_version(new_id, user.name(), now).await?;
    audit(&state, user.name(), "content-rollback", &format!("version:{new_id}"), &format!("snapshot of version {id}, publication {}", publication.seq)).await?;
    Ok(Redirect::to("/contenu/historique").into_response())
}
