//! `/supervision`: the calls in progress on every instance seen in the last 10 seconds,
//! their recognition load, the last hour's figures and the switches in force.
//!
//! The page works without JavaScript (a link reloads it); with it, our own
//! `/supervision/direct.js` fetches `/supervision/direct` (the same HTML fragment) every
//! 2 seconds and swaps it in, so the page follows the service without a reload.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use ivr_accounting::supervision::last_hour;
use ivr_accounting::{InstanceBeat, SwitchState};
use maud::{html, Markup};

use super::{tabs, ROLES};
use crate::pages::layout;
use crate::requests::topic_fr;
use crate::{AppState, Authed, ConsoleError};

/// An instance whose last heartbeat is older than this is not shown (it stopped or lost
/// the database); instances beat every 2 s.
const SEEN_WITHIN_S: i64 = 10;

const SCRIPT: &str = include_str!("direct.js");

/// The state of a call as supervisors read it.
fn state_fr(state: &str) -> &str {
    match state {
        "greeting" => "accueil",
        "listening" => "écoute",
        "recognizing" => "reconnaissance",
        "answering" => "réponse",
        "transferring" => "transfert",
        "procedure" => "démarche",
        "closed" => "message de fermeture",
        other => other,
    }
}

fn duration(from: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - from).num_seconds().max(0);
    format!("{}:{:02}", s / 60, s % 60)
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v} ms"))
}

fn paris_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::Paris).format("%H:%M:%S").to_string()
}

/// What the fragment shows, read in one go.
struct Live {
    now: DateTime<Utc>,
    instances: Vec<InstanceBeat>,
    /// Instance name → content version it reports running.
    contents: HashMap<String, String>,
    figures: ivr_accounting::report::PeriodFigures,
    switches: SwitchState,
}

async fn load(state: &AppState) -> Result<Live, ConsoleError> {
    let store = state.store()?;
    let now = state.now();
    let instances = store.instances_since(now - Duration::seconds(SEEN_WITHIN_S)).await?;
    let contents = store
        .instance_contents()
        .await?
        .into_iter()
        .map(|c| (c.instance, if c.ok { format!("version {}", c.version) } else { format!("version {} (échec)", c.version) }))
        .collect();
    // The service's `[accounting]` rule: the same counting as `ivr report` and the dashboards.
    let figures = last_hour(store, &state.accounting.sc32, now).await?;
    let switches = store.switch_state().await?;
    Ok(Live { now, instances, contents, figures, switches })
}

fn fragment_html(live: &Live) -> Markup {
    let now = live.now;
    let calls: Vec<_> = live.instances.iter().flat_map(|i| i.calls.iter().map(move |c| (i.name.as_str(), c))).collect();
    let f = &live.figures;
    let per_minute = f.calls as f64 / 60.0;
    let on: Vec<&str> = [(live.switches.flags.saturation, "saturation"), (live.switches.flags.crisis, "crise"), (live.switches.flags.closed, "fermeture")]
        .into_iter()
        .filter_map(|(b, n)| b.then_some(n))
        .collect();
    html! {
        p class="updated" { "Mis à jour à " (paris_time(now)) " (heure de Paris)." }
        @if !on.is_empty() {
            p class="error" { "Messages actifs : " (on.join(", ")) ". " a href="/supervision/interrupteurs" { "Gérer les messages" } }
        }
        h2 { "Appels en cours (" (calls.len()) ")" }
        @if calls.is_empty() {
            p { "Aucun appel en cours." }
        } @else {
            table {
                caption { "Appels en cours sur toutes les instances, les plus anciens d'abord" }
                thead { tr {
                    th scope="col" { "Référence" } th scope="col" { "Instance" } th scope="col" { "Parcours" }
                    th scope="col" { "État" } th scope="col" { "Thème" } th scope="col" { "Durée" }
                } }
                tbody {
                    @for (instance, c) in sorted(&calls) {
                        tr {
                            td { code { (c.reference) } }
                            td { (instance) }
                            td { "choix " (c.flow) }
                            td { (state_fr(&c.state)) }
                            td { (topic_fr(c.topic.as_deref())) }
                            td { (duration(c.started, now)) }
                        }
                    }
                }
            }
        }
        h2 { "Dernière heure" }
        table class="figures" {
            caption { "Appels commencés depuis une heure (enregistrements terminés)" }
            thead { tr {
                th scope="col" { "Appels" } th scope="col" { "Par minute" } th scope="col" { "Répondus par le serveur vocal" }
                th scope="col" { "Transférés" } th scope="col" { "Abandonnés" }
            } }
            tbody { tr {
                td { (f.calls) } td { (format!("{per_minute:.2}").replace('.', ",")) } td { (f.answered_by_bot) } td { (f.transferred) } td { (f.abandoned) }
            } }
        }
        h2 { "Instances (" (live.instances.len()) ")" }
        @if live.instances.is_empty() {
            p class="error" { "Aucune instance n'a donné signe de vie depuis " (SEEN_WITHIN_S) " secondes." }
        } @else {
            table {
                caption { "Instances vues depuis " (SEEN_WITHIN_S) " secondes" }
                thead { tr {
                    th scope="col" { "Instance" } th scope="col" { "Dernier signal" } th scope="col" { "SIP" } th scope="col" { "Appels" }
                    th scope="col" { "File de reconnaissance" } th scope="col" { "Reconnaissance médiane" } th scope="col" { "Reconnaissance 95 %" }
                    th scope="col" { "Contenu" } th scope="col" { "Démarrée à" }
                } }
                tbody {
                    @for i in &live.instances {
                        tr {
                            td { (i.name) }
                            td { "il y a " ((now - i.updated).num_seconds().max(0)) " s" }
                            td { @if i.sip_up { "en service" } @else { strong { "arrêté" } } }
                            td { (i.calls.len()) }
                            td { (i.asr_queue) }
                            td { (ms(i.asr_p50_ms)) }
                            td { (ms(i.asr_p95_ms)) }
                            td { (i.content.clone().or_else(|| live.contents.get(&i.name).cloned()).unwrap_or_else(|| "—".into())) }
                            td { (crate::pages::paris(i.started)) }
                        }
                    }
                }
            }
        }
    }
}

fn sorted<'a>(calls: &'a [(&'a str, &'a ivr_accounting::LiveCall)]) -> Vec<(&'a str, &'a ivr_accounting::LiveCall)> {
    let mut v = calls.to_vec();
    v.sort_by(|a, b| a.1.started.cmp(&b.1.started).then_with(|| a.1.reference.cmp(&b.1.reference)));
    v
}

/// `GET /supervision`.
pub async fn page(State(state): State<AppState>, user: Authed) -> Result<Html<String>, ConsoleError> {
    user.require(ROLES)?;
    let live = load(&state).await?;
    Ok(layout(
        "Supervision en direct",
        Some(&user),
        html! {
            (tabs("/supervision"))
            script src="/supervision/direct.js" defer {}
            noscript { p { "La page se met à jour toute seule lorsque JavaScript est actif. " a href="/supervision" { "Actualiser maintenant" } } }
            div id="direct" data-source="/supervision/direct" {
                (fragment_html(&live))
            }
        },
    ))
}

/// `GET /supervision/direct`: the live part of the page alone, for the script.
pub async fn fragment(State(state): State<AppState>, user: Authed) -> Result<Html<String>, ConsoleError> {
    user.require(ROLES)?;
    let live = load(&state).await?;
    Ok(Html(fragment_html(&live).into_string()))
}

/// `GET /supervision/direct.js` (public: it holds no data).
pub async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "max-age=300")], SCRIPT).into_response()
}
