//! Call review for quality listening (`/appels`): the calls of a day, and one call's
//! timeline with its SC3.2 outcome and the reason for it. Roles `supervisor` and `admin`.
//!
//! A call is named by its short reference (see `ivr_accounting::review::call_ref`); no page
//! shows a caller's number (none is stored) nor the day's pseudonym. Opening a call shows
//! what the caller said: the read is written to the audit log (`call-review-open`) before
//! the page is sent. The list itself shows no transcript.

mod view;

use axum::extract::{Path, Query, State};
use axum::response::Html;
use chrono::NaiveDate;
use ivr_accounting::review::{self as calls, ref_day};
use ivr_accounting::{paris_day, Role};
use serde::Deserialize;

use crate::pages::layout;
use crate::{audit, AppState, Authed, ConsoleError};

const ROLES: &[Role] = &[Role::Supervisor, Role::Admin];

#[derive(Deserialize, Default)]
pub struct DayQuery {
    /// YYYY-MM-DD (Paris day); default today.
    #[serde(default)]
    jour: Option<String>,
}

pub async fn list(State(state): State<AppState>, user: Authed, Query(q): Query<DayQuery>) -> Result<Html<String>, ConsoleError> {
    user.require(ROLES)?;
    let today = paris_day(state.now());
    let asked = q.jour.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let (day, problem) = match asked.map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d")) {
        None => (today, false),
        Some(Ok(d)) => (d, false),
        Some(Err(_)) => (today, true),
    };
    let rows = calls::day_calls(state.store()?, &state.accounting.sc32, day).await?;
    Ok(layout("Écoute qualité : appels du jour", Some(&user), view::list(day, problem, &rows)))
}

pub async fn show(State(state): State<AppState>, user: Authed, Path(reference): Path<String>) -> Result<Html<String>, ConsoleError> {
    user.require(ROLES)?;
    if ref_day(&reference).is_none() {
        return Err(ConsoleError::NotFound);
    }
    let Some(call) = calls::find_call(state.store()?, &state.accounting.sc32, &reference).await? else {
        return Err(ConsoleError::NotFound);
    };
    // The read is audited before anything is shown.
    audit(&state, user.name(), "call-review-open", &format!("call:{reference}"), "").await?;
    let body = view::call(&call, &state.accounting.sc32, state.accounting.transcript_retention_days);
    Ok(layout(&format!("Appel {reference}"), Some(&user), body))
}
