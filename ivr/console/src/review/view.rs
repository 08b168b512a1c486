//! The HTML of the call review pages: the day's list and a call's timeline.

use chrono::{DateTime, NaiveDate, Utc};
use ivr_accounting::review::{timeline, verdict, ReviewedCall, Step, Verdict};
use ivr_accounting::sc32::Miss;
use ivr_accounting::{Caller, EndedBy, Sc32Rule};
use maud::{html, Markup};

use crate::charts::{fr_number, fr_percent, ratio_bar};
use crate::pages::paris;

fn clock(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::Paris).format("%H:%M:%S").to_string()
}

/// A duration as `m:ss` (or `h:mm:ss`).
fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn seconds(ms: u64) -> String {
    format!("{}\u{a0}s", fr_number(ms as f64 / 1000.0, 1))
}

fn ended_fr(by: EndedBy) -> &'static str {
    match by {
        EndedBy::Caller => "raccroché par l'appelant",
        EndedBy::Bot => "terminé par le serveur vocal",
        EndedBy::Transfer => "transféré",
        EndedBy::Network => "coupure de la ligne",
        EndedBy::Lost => "fin non observée",
    }
}

fn outcome_fr(c: &ReviewedCall) -> String {
    let r = &c.record;
    if c.in_progress() {
        return "en cours ou non encore enregistré".into();
    }
    match &r.transfer {
        Some(t) if t.to_agent && !t.failed => format!("transfert vers un conseiller ({})", t.reason),
        Some(t) if t.failed => format!("{} après un transfert non abouti", ended_fr(r.ended_by)),
        _ => ended_fr(r.ended_by).into(),
    }
}

fn productive_fr(c: &ReviewedCall) -> Markup {
    html! {
        @match &c.outcome {
            None => "—",
            Some(o) => {
                (if o.productive { "oui" } else { "non" })
                @if !c.is_final { " (provisoire)" }
            }
        }
    }
}

pub fn list(day: NaiveDate, problem: bool, rows: &[ReviewedCall]) -> Markup {
    let prev = day.pred_opt().unwrap_or(day);
    let next = day.succ_opt().unwrap_or(day);
    html! {
        form method="get" action="/appels" class="filters" aria-label="Choix du jour" {
            div class="stack" {
                label for="jour" { "Jour" }
                input id="jour" name="jour" type="date" value=(day.format("%Y-%m-%d")) required;
            }
            button type="submit" { "Afficher" }
        }
        @if problem {
            p class="error" role="alert" { "La date demandée n'est pas valide (AAAA-MM-JJ) : voici les appels du jour." }
        }
        p {
            a href={ "/appels?jour=" (prev.format("%Y-%m-%d")) } { "Jour précédent" } " · "
            a href={ "/appels?jour=" (next.format("%Y-%m-%d")) } { "Jour suivant" }
        }
        @if rows.is_empty() {
            p { "Aucun appel le " (day.format("%d/%m/%Y")) "." }
        } @else {
            table id="appels" {
                caption { (rows.len()) " appel(s) le " (day.format("%d/%m/%Y")) ", dans l'ordre d'arrivée (heure de Paris)" }
                thead { tr {
                    th scope="col" { "Heure" } th scope="col" { "Référence" } th scope="col" { "Parcours" } th scope="col" { "Durée" }
                    th scope="col" { "Issue" } th scope="col" { "Productif SC3.2" }
                } }
                tbody {
                    @for c in rows {
                        tr {
                            td { (clock(c.record.started_at)) }
                            th scope="row" { a href={ "/appels/" (c.reference) } { (c.reference) } }
                            td { "choix " (c.record.flow.number()) }
                            td { (duration((c.record.ended_at - c.record.started_at).num_milliseconds())) }
                            td { (outcome_fr(c)) }
                            td { (productive_fr(c)) }
                        }
                    }
                }
            }
        }
    }
}

pub fn call(c: &ReviewedCall, rule: &Sc32Rule, retention_days: u32) -> Markup {
    let r = &c.record;
    let day = r.day();
    html! {
        dl {
            dt { "Référence" } dd { (c.reference) }
            dt { "Début (Paris)" } dd { (paris(r.started_at)) }
            dt { "Parcours" } dd { "choix " (r.flow.number()) }
            dt { "Appelant" } dd { @match r.caller { Caller::Withheld => "numéro masqué", Caller::Pseudonym(_) => "numéro présenté (non conservé)" } }
            dt { "Durée totale" } dd { (duration((r.ended_at - r.started_at).num_milliseconds())) }
            dt { "Issue" } dd { (outcome_fr(c)) }
        }
        section aria-labelledby="sc32" {
            h2 id="sc32" { "Résultat SC3.2" }
            @match &c.outcome {
                None => p { "Appel en cours, ou interrompu et pas encore enregistré : son résultat sera calculé à la fin de l'appel ou à la clôture du jour." },
                Some(o) => (verdict_html(&verdict(rule, r, o), c.is_final, r.caller == Caller::Withheld)),
            }
        }
        section aria-labelledby="deroule" {
            h2 id="deroule" { "Déroulé de l'appel" }
            table id="deroule-appel" {
                caption { "Événements dans l'ordre, temps depuis l'arrivée de l'appel" }
                thead { tr { th scope="col" { "Temps" } th scope="col" { "Événement" } th scope="col" { "Détail" } } }
                tbody {
                    @for e in timeline(r) {
                        tr {
                            td { "+" (duration(e.offset_ms)) }
                            (step_cells(&e.step, retention_days))
                        }
                    }
                }
            }
        }
        p { a href={ "/appels?jour=" (day.format("%Y-%m-%d")) } { "Retour aux appels du " (day.format("%d/%m/%Y")) } }
    }
}

fn verdict_html(v: &Verdict, is_final: bool, withheld: bool) -> Markup {
    let threshold = fr_percent(v.heard_threshold);
    let heard = v.best_heard_ratio.map(fr_percent);
    html! {
        p class=(if v.productive { "ok" } else { "error" }) id="verdict" {
            strong { (if v.productive { "Productif" } else { "Non productif" }) }
            @if is_final { " (jour clos : résultat définitif)" } @else { " (jour non clos : résultat provisoire)" }
        }
        ul {
            @if v.productive {
                li { "Réponse entendue à " (heard.clone().unwrap_or_default()) " (il faut plus de " (threshold) ")." }
                li { "Pas de transfert vers un conseiller." }
                @if withheld {
                    li { "Numéro masqué : la réitération ne peut pas être vérifiée ; la règle en vigueur compte ces appels." }
                } @else {
                    li { "Pas de réitération comptée (même appelant rappelant le même jour)." }
                }
                li { "Durée d'interaction comptée dans les heures productives : " (duration(v.interaction_ms as i64)) "." }
            }
            @for m in &v.misses {
                li {
                    @match m {
                        Miss::NoAnswerHeard => @match &heard {
                            None => { "Aucune réponse de thème n'a été diffusée." }
                            Some(h) => { "Aucune réponse entendue à plus de " (threshold) " (la mieux écoutée : " (h) ")." }
                        },
                        Miss::TransferredToAgent => "L'appel a été transféré vers un conseiller.",
                        Miss::Reiterated => "Le même appelant a rappelé le même jour (réitération).",
                        Miss::Withheld => "Numéro masqué : la règle en vigueur ne compte pas ces appels productifs.",
                        Miss::Lost => "La fin de l'appel n'a pas été observée (appel perdu).",
                    }
                }
            }
        }
    }
}

fn step_cells(s: &Step, retention_days: u32) -> Markup {
    html! {
        @match s {
            Step::Started => { td { "Appel reçu" } td {} }
            Step::Answered => { td { "Décroché" } td {} }
            Step::Played { name, answer, total_ms, played_ms, barged_in } => {
                @let ratio = if *total_ms == 0 { 0.0 } else { (*played_ms).min(*total_ms) as f64 / *total_ms as f64 };
                @let label = format!("écouté à {}", fr_percent(ratio));
                td { (if *answer { "Réponse diffusée" } else { "Message diffusé" }) }
                td {
                    code { (name) } " "
                    (ratio_bar(ratio, &label))
                    " " (label) " (" (seconds(*played_ms)) " sur " (seconds(*total_ms)) ")"
                    @if *barged_in { ", interrompu par l'appelant" }
                }
            }
            Step::Question { transcript, intent, score } => {
                td { "L'appelant parle" }
                td {
                    @match transcript {
                        Some(t) => q { (t) },
                        None => em { "transcription effacée après " (retention_days) " jours" },
                    }
                    br;
                    "thème reconnu : " code { (intent) } ", score " (fr_number(f64::from(*score), 2))
                }
            }
            Step::BargeIn => { td { "Interruption" } td { "l'appelant a parlé pendant la diffusion" } }
            Step::Key => { td { "Touche pressée" } td {} }
            Step::Transfer { reason, to_agent, failed } => {
                td { (if *to_agent { "Transfert vers un conseiller" } else { "Transfert vers un autre service" }) }
                td { "motif : " code { (reason) } @if *failed { " — transfert non abouti, l'appelant est resté avec le serveur vocal" } }
            }
            Step::Ended { by } => { td { "Fin de l'appel" } td { (ended_fr(*by)) } }
        }
    }
}
