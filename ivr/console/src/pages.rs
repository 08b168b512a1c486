//! The layout shared by every page, and the small pages: home, login, messages, audit log.
//!
//! RGAA basics: `lang="fr"`, a title per page, a skip link, one `h1`, labelled fields,
//! tables with headers, visible focus, text contrast above 7:1 (see `console.css`).

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use ivr_accounting::Role;
use maud::{html, Markup, DOCTYPE};

use crate::{AppState, Authed, ConsoleError};

const CSS: &str = include_str!("console.css");

pub fn paris(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::Paris).format("%d/%m/%Y %H:%M").to_string()
}

pub fn role_fr(r: Role) -> &'static str {
    match r {
        Role::Editor => "rédaction",
        Role::Publisher => "publication",
        Role::Analyst => "analyse",
        Role::Supervisor => "supervision",
        Role::Agent => "conseiller",
        Role::Admin => "administration",
    }
}

/// A whole page. `user` adds the navigation for the role and the logout form.
pub fn layout(title: &str, user: Option<&Authed>, body: Markup) -> Html<String> {
    let page = html! {
        (DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Console 3230" }
                link rel="stylesheet" href="/console.css";
            }
            body {
                a class="skip" href="#contenu" { "Aller au contenu" }
                header {
                    p class="brand" { a href="/" { "Console du 3230" } }
                    @if let Some(u) = user {
                        nav aria-label="Navigation principale" {
                            ul {
                                @if matches!(u.account.role, Role::Editor | Role::Publisher | Role::Analyst | Role::Admin) {
                                    li { a href="/contenu" { "Contenu" } }
                                }
                                @if matches!(u.account.role, Role::Agent | Role::Supervisor) {
                                    li { a href="/demandes" { "Demandes" } }
                                }
                                @if matches!(u.account.role, Role::Supervisor | Role::Admin) {
                                    li { a href="/supervision" { "Supervision" } }
                                }
                                @if matches!(u.account.role, Role::Analyst | Role::Supervisor | Role::Admin) {
                                    li { a href="/tableaux" { "Tableaux de bord" } }
                                }
                                @if matches!(u.account.role, Role::Supervisor | Role::Admin) {
                                    li { a href="/appels" { "Écoute qualité" } }
                                }
                                @if u.account.role == Role::Admin {
                                    li { a href="/journal" { "Journal d'audit" } }
                                }
                            }
                        }
                        form class="logout" method="post" action="/deconnexion" {
                            span { (u.account.name) " (" (role_fr(u.account.role)) ")" }
                            input type="hidden" name="csrf" value=(u.csrf);
                            button type="submit" { "Se déconnecter" }
                        }
                    }
                }
                main id="contenu" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    Html(page.into_string())
}

pub fn message_page(title: &str, text: &str) -> Html<String> {
    layout(title, None, html! { p { (text) } p { a href="/" { "Retour à l'accueil" } } })
}

pub fn login_page(csrf: &str, error: Option<&str>) -> Html<String> {
    layout(
        "Connexion",
        None,
        html! {
            @if let Some(e) = error {
                p class="error" role="alert" { (e) }
            }
            form method="post" action="/connexion" class="stack" {
                input type="hidden" name="csrf" value=(csrf);
                label for="name" { "Identifiant" }
                input id="name" name="name" type="text" autocomplete="username" required autofocus;
                label for="password" { "Mot de passe" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" { "Se connecter" }
            }
        },
    )
}

pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], CSS).into_response()
}

pub async fn not_found() -> ConsoleError {
    ConsoleError::NotFound
}

pub async fn home(user: Authed) -> Html<String> {
    let role = user.account.role;
    layout(
        "Accueil",
        Some(&user),
        html! {
            p { "Vous êtes connecté(e) en tant que " strong { (user.account.name) } ", rôle " (role_fr(role)) "." }
            ul {
                @if matches!(role, Role::Editor | Role::Publisher | Role::Analyst | Role::Admin) {
                    li { a href="/contenu" { "Contenu : les sujets, leurs chiffres et l'historique des versions" } }
                }
                @if matches!(role, Role::Editor | Role::Publisher | Role::Admin) {
                    li { a href="/contenu/questions" { "Questions sans réponse à traiter" } }
                    li { a href="/contenu/relecture" { "Relecture et publication du brouillon" } }
                }
                @if matches!(role, Role::Agent | Role::Supervisor) {
                    li { a href="/demandes" { "Demandes de rappel et d'attestation à traiter" } }
                }
                @if matches!(role, Role::Supervisor | Role::Admin) {
                    li { a href="/supervision" { "Supervision en direct, messages et calendrier d'ouverture" } }
                }
                @if matches!(role, Role::Analyst | Role::Supervisor | Role::Admin) {
                    li { a href="/tableaux" { "Tableaux de bord : heures productives SC3.2, déflection, transferts, exports" } }
                }
                @if matches!(role, Role::Supervisor | Role::Admin) {
                    li { a href="/appels" { "Écoute qualité : les appels d'un jour et leur déroulé" } }
                }
                @if role == Role::Admin {
                    li { a href="/journal" { "Journal d'audit" } }
                }
            }
        },
    )
}

pub async fn audit_log(State(state): State<AppState>, user: Authed) -> Result<Html<String>, ConsoleError> {
    user.require(&[Role::Admin])?;
    let store = state.store()?;
    let verify = store.verify_audit().await?;
    let entries = store.audit_entries(500).await?;
    Ok(layout(
        "Journal d'audit",
        Some(&user),
        html! {
            @match &verify.broken {
                None => p class="ok" role="status" { "Chaîne intègre : " (verify.rows) " ligne(s) vérifiée(s). Conservation : 6 mois." },
                Some((seq, why)) => p class="error" role="alert" { "Chaîne rompue à la ligne " (seq) " : " (why) "." },
            }
            table {
                caption { "Les 500 dernières actions, de la plus récente à la plus ancienne" }
                thead { tr { th scope="col" { "N°" } th scope="col" { "Date (Paris)" } th scope="col" { "Qui" } th scope="col" { "Action" } th scope="col" { "Objet" } th scope="col" { "Détail" } } }
                tbody {
                    @for e in &entries {
                        tr { td { (e.seq) } td { (paris(e.at)) } td { (e.actor) } td { (e.action) } td { (e.target) } td { (e.detail) } }
                    }
                }
            }
        },
    ))
}
