//! The editors' pages (`/contenu`): topics with their figures, the topic and prompt forms
//! that write into the one shared draft, listening to an answer in the production voice,
//! trying questions against the draft's matcher, the review and publication of the draft,
//! the history of versions with rollback, and the inbox of questions the bot could not
//! answer.
//!
//! Content is versioned data (DESIGN §11): a draft is a whole [`ContentSnapshot`] edited in
//! place, a publication makes an immutable version of it; `ivr serve` watches the published
//! pointer and reloads. Every page that changes something takes the session's CSRF token
//! and writes the action to the audit log. Roles: `editor` and `publisher` edit, only
//! `publisher` publishes and rolls back, `analyst` reads the topics and their figures,
//! `admin` does everything.
//!
//! [`ContentSnapshot`]: ivr_accounting::ContentSnapshot

mod checked;
mod diff;
mod edit;
mod grouping;
mod inbox;
mod listen;
mod publish;
mod topic_file;
mod topics;
mod try_it;
mod working;

use axum::routing::{get, post};
use axum::Router;
use ivr_accounting::Role;

use crate::AppState;

/// Who may change the draft.
pub(crate) const EDIT: &[Role] = &[Role::Editor, Role::Publisher, Role::Admin];
/// Who may publish and roll back.
pub(crate) const PUBLISH: &[Role] = &[Role::Publisher, Role::Admin];
/// Who may read the topics and their figures.
pub(crate) const READ: &[Role] = &[Role::Editor, Role::Publisher, Role::Analyst, Role::Admin];

/// The routes of the editors' pages, merged into the console's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/contenu", get(topics::list))
        .route("/contenu/nouveau", get(edit::new_form).post(edit::create))
        .route("/contenu/sujet/{slug}", get(edit::form).post(edit::save))
        .route("/contenu/sujet/{slug}/retirer", post(edit::retire))
        .route("/contenu/sujet/{slug}/verifier", post(edit::verify))
        .route("/console.js", get(script))
        .route("/contenu/sujet/{slug}/ecouter.wav", get(listen::wav))
        .route("/contenu/messages", get(edit::prompts_form).post(edit::save_prompts))
        .route("/contenu/essayer", get(try_it::page))
        .route("/contenu/relecture", get(publish::review))
        .route("/contenu/publier", post(publish::publish))
        .route("/contenu/brouillon/abandonner", post(publish::discard))
        .route("/contenu/historique", get(publish::history))
        .route("/contenu/version/{id}", get(publish::version))
        .route("/contenu/version/{id}/retablir", post(publish::rollback))
        .route("/contenu/questions", get(inbox::page))
        .route("/contenu/questions/marquer", post(inbox::mark))
}

/// The editors' small script (checks a topic form while it is typed); public, it holds no data.
const SCRIPT: &str = include_str!("../console.js");

async fn script() -> axum::response::Response {
    use axum::response::IntoResponse;
    ([(axum::http::header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (axum::http::header::CACHE_CONTROL, "max-age=3600")], SCRIPT).into_response()
}

/// The sub-navigation of the editors' pages, shown at the top of each.
pub(crate) fn subnav(user: &crate::Authed) -> maud::Markup {
    let role = user.account.role;
    maud::html! {
        nav class="subnav" aria-label="Pages du contenu" {
            ul {
                li { a href="/contenu" { "Sujets" } }
                @if EDIT.contains(&role) {
                    li { a href="/contenu/essayer" { "Essayer" } }
                    li { a href="/contenu/questions" { "Questions sans réponse" } }
                    li { a href="/contenu/messages" { "Messages système" } }
                    li { a href="/contenu/relecture" { "Relecture et publication" } }
                }
                li { a href="/contenu/historique" { "Historique" } }
            }
        }
    }
}
