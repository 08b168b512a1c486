//! The web console of the 3230 voicebot, served by `ivr serve` in the same process
//! (DESIGN §11): `/healthz`, login and sessions, the agents' queue of procedure requests,
//! and the audit log for admins. Later pages (editors' content, supervisors' dashboards)
//! plug into [`router`] the same way: a handler takes [`Authed`], calls
//! [`Authed::require`] with the roles it admits, checks the CSRF token of any form that
//! changes something ([`Authed::check_csrf`]) and writes what it did to the audit log.
//!
//! HTML is rendered on the server (maud); forms work without JavaScript; no script at all is
//! served yet; the Content-Security-Policy is `default-src 'self'` (see [`headers`]).

pub mod config;
pub mod metrics;
pub mod password;
pub mod server;

mod auth;
mod charts;
mod dashboards;
mod editor;
mod error;
mod headers;
mod pages;
mod requests;
mod review;
mod supervision;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use ivr_accounting::{AccountingConfig, Store};

pub use auth::{Authed, SESSION_COOKIE};
pub use config::ConsoleConfig;
pub use error::ConsoleError;

/// The clock the console reads (tests move it to expire sessions and locks).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// What `/healthz` reports.
#[derive(Clone)]
pub struct Health {
    pub version: &'static str,
    /// Set by `ivr serve` while its SIP side is running.
    pub sip_up: Arc<AtomicBool>,
    /// The content version `ivr serve` runs (0: the repository's files, no database).
    pub content_version: Arc<AtomicI64>,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// None: no database (`--db-url none`): only `/healthz` answers, pages say so.
    pub store: Option<Store>,
    pub cfg: Arc<ConsoleConfig>,
    /// Cookies get `Secure` and responses HSTS when the console is served over TLS.
    pub tls: bool,
    pub health: Health,
    pub clock: Clock,
    /// The `[accounting]` settings of the service: the SC3.2 rule for days not closed yet and
    /// the transcripts' retention, so the console's figures are those of `ivr report`.
    pub accounting: Arc<AccountingConfig>,
}

impl AppState {
    pub fn new(store: Option<Store>, cfg: ConsoleConfig, tls: bool, health: Health) -> AppState {
        AppState { store, cfg: Arc::new(cfg), tls, health, clock: Arc::new(Utc::now), accounting: Arc::new(AccountingConfig::default()) }
    }

    /// The same state computing figures with `accounting` (the service's `[accounting]` table).
    pub fn with_accounting(mut self, accounting: AccountingConfig) -> AppState {
        self.accounting = Arc::new(accounting);
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    pub(crate) fn store(&self) -> Result<&Store, ConsoleError> {
        self.store.as_ref().ok_or(ConsoleError::NoDatabase)
    }
}

/// Every route of the console, with the security headers on every response.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/", get(pages::home))
        .route("/console.css", get(pages::stylesheet))
        .route("/connexion", get(auth::login_form).post(auth::login))
        .route("/deconnexion", post(auth::logout))
        .route("/demandes", get(requests::list))
        .route("/demandes/{id}", get(requests::show))
        .route("/demandes/{id}/traitee", post(requests::mark_handled))
        .route("/journal", get(pages::audit_log))
        .route("/tableaux", get(dashboards::page))
        .route("/tableaux/export", post(dashboards::export))
        .route("/appels", get(review::list))
        .route("/appels/{reference}", get(review::show))
        .merge(supervision::routes())
        .merge(editor::routes())
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::security_headers))
        .with_state(state)
}

async fn healthz(axum::extract::State(s): axum::extract::State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "status": "ok",
        "version": s.health.version,
        "sip": s.health.sip_up.load(Ordering::SeqCst),
        "database": s.store.is_some(),
        "content_version": s.health.content_version.load(Ordering::SeqCst),
    }))
}

/// Audit helper: a failure to write the audit log is an error of the action itself (an
/// action that cannot be audited is not done).
pub(crate) async fn audit(state: &AppState, actor: &str, action: &str, target: &str, detail: &str) -> Result<(), ConsoleError> {
    state.store()?.audit(state.now(), actor, action, target, detail).await?;
    Ok(())
}
