//! The Cnaf's and the contractor's dashboards (`/tableaux`): SC3.2 productive hours,
//! deflection, transfers, abandons, reiteration and heard ratio over a chosen period, per
//! day, ISO week or month, per flow and per topic; and the exports of the same figures.
//!
//! The figures are those of `ivr report`: this module calls `ivr_accounting::report::build`
//! and `export::export` with the service's SC3.2 rule and computes nothing itself, so the
//! page, the exports and the command line cannot disagree.
//!
//! Roles: `analyst`, `supervisor` and `admin` see the page; `analyst` and `admin` export.

mod export;
mod period;
mod view;

use axum::extract::{Query, State};
use axum::response::Html;
use ivr_accounting::report;
use ivr_accounting::{paris_day, Flow, Role};

pub use export::export;
pub(crate) use period::{Choice, PeriodQuery};

use crate::pages::layout;
use crate::{AppState, Authed, ConsoleError};

const VIEW_ROLES: &[Role] = &[Role::Analyst, Role::Supervisor, Role::Admin];
const EXPORT_ROLES: &[Role] = &[Role::Analyst, Role::Admin];

/// `/tableaux?du=YYYY-MM-DD&au=YYYY-MM-DD&par=jour|semaine|mois` (default: the last 30 days
/// up to today, per day). A period that cannot be read is said on the page, which then shows
/// the default one.
pub async fn page(State(state): State<AppState>, user: Authed, Query(q): Query<PeriodQuery>) -> Result<Html<String>, ConsoleError> {
    user.require(VIEW_ROLES)?;
    let today = paris_day(state.now());
    let (choice, problem) = match Choice::read(&q, today) {
        Ok(c) => (c, None),
        Err(why) => (Choice::default_for(today), Some(why)),
    };
    let store = state.store()?;
    let rule = &state.accounting.sc32;
    // All flows, then each flow restricted (reiteration still judged on the whole day, as
    // `ivr report --flow` does), from one read of the period's records.
    let mut reports = report::build_flows(store, rule, choice.from, choice.to, choice.by, &[None, Some(Flow::Choix2), Some(Flow::Choix3)]).await?.into_iter();
    let (Some(all), Some(choix2), Some(choix3)) = (reports.next(), reports.next(), reports.next()) else {
        return Err(ConsoleError::Internal("one report per flow asked".into()));
    };
    let flows = [(Flow::Choix2, choix2.total), (Flow::Choix3, choix3.total)];
    let can_export = EXPORT_ROLES.contains(&user.account.role);
    let body = view::dashboard(&view::Dashboard {
        choice: &choice,
        problem: problem.as_deref(),
        report: &all,
        flows: &flows,
        csrf: can_export.then_some(user.csrf.as_str()),
    });
    Ok(layout("Tableaux de bord", Some(&user), body))
}
