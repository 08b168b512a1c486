//! The supervisors' pages (CCTP §5.7), roles `supervisor` and `admin`: the live view of
//! every instance sharing the database ([`live`]), the runtime switches for all instances
//! at once ([`switches`]), and the calendar of opening hours, public holidays and
//! exceptional closures ([`calendar`]). Also serves `/metrics` (see [`crate::metrics`]).
//!
//! No page here shows caller data: a call in progress is a short reference, its flow,
//! state, topic and duration. Every change (switch, closure) is written to the audit log
//! before the answer is sent.

mod calendar;
mod live;
mod switches;

use axum::routing::{get, post};
use axum::Router;
use ivr_accounting::Role;

use crate::AppState;

const ROLES: &[Role] = &[Role::Supervisor, Role::Admin];

/// The routes of the supervisors' pages and of `/metrics`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/supervision", get(live::page))
        .route("/supervision/direct", get(live::fragment))
        .route("/supervision/direct.js", get(live::script))
        .route("/supervision/interrupteurs", get(switches::page).post(switches::set))
        .route("/supervision/calendrier", get(calendar::page))
        .route("/supervision/calendrier/fermetures", post(calendar::add))
        .route("/supervision/calendrier/fermetures/{id}/suppression", post(calendar::remove))
        .route("/metrics", get(crate::metrics::metrics))
}

/// The sub-navigation shared by the three pages.
fn tabs(current: &str) -> maud::Markup {
    let items = [("/supervision", "En direct"), ("/supervision/interrupteurs", "Messages"), ("/supervision/calendrier", "Calendrier")];
    maud::html! {
        nav aria-label="Supervision" class="tabs" {
            ul {
                @for (href, label) in items {
                    li {
                        @if href == current {
                            a href=(href) aria-current="page" { (label) }
                        } @else {
                            a href=(href) { (label) }
                        }
                    }
                }
            }
        }
    }
}
