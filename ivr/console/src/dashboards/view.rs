//! The dashboard page's HTML: the period form, the key figures, the charts with their
//! tables, and the export form.

use ivr_accounting::report::{Period, PeriodFigures, Report};
use ivr_accounting::Flow;
use maud::{html, Markup};

use super::Choice;
use crate::charts::{self, fr_count, fr_hours, fr_percent, Datum};

pub struct Dashboard<'a> {
    pub choice: &'a Choice,
    pub problem: Option<&'a str>,
    pub report: &'a Report,
    pub flows: &'a [(Flow, PeriodFigures)],
    /// The session's CSRF token when the user may export.
    pub csrf: Option<&'a str>,
}

fn opt_pct(v: Option<f64>) -> String {
    v.map(fr_percent).unwrap_or_else(|| "—".into())
}

fn state_fr(final_: bool) -> &'static str {
    if final_ {
        "clos"
    } else {
        "provisoire"
    }
}

/// The short label of a period under a chart's axis.
fn short_label(by: Period, p: &PeriodFigures) -> String {
    match by {
        Period::Day => p.first_day.format("%d/%m").to_string(),
        Period::Week => p.period.split_once("-W").map_or_else(|| p.period.clone(), |(_, w)| format!("S{w}")),
        Period::Month => p.first_day.format("%m/%Y").to_string(),
    }
}

/// The long label of a period in tables.
fn long_label(by: Period, p: &PeriodFigures) -> String {
    match by {
        Period::Day => p.first_day.format("%d/%m/%Y").to_string(),
        Period::Week => p.period.split_once("-W").map_or_else(|| p.period.clone(), |(y, w)| format!("semaine {w} de {y}")),
        Period::Month => p.first_day.format("%m/%Y").to_string(),
    }
}

fn by_fr(by: Period) -> &'static str {
    match by {
        Period::Day => "par jour",
        Period::Week => "par semaine (ISO)",
        Period::Month => "par mois",
    }
}

pub fn dashboard(d: &Dashboard) -> Markup {
    let r = d.report;
    let c = d.choice;
    html! {
        form method="get" action="/tableaux" class="filters" aria-label="Choix de la période" {
            div class="stack" {
                label for="du" { "Du" }
                input id="du" name="du" type="date" value=(c.from.format("%Y-%m-%d")) required;
            }
            div class="stack" {
                label for="au" { "Au (inclus)" }
                input id="au" name="au" type="date" value=(c.to.format("%Y-%m-%d")) required;
            }
            div class="stack" {
                label for="par" { "Granularité" }
                select id="par" name="par" {
                    @for (v, label) in [("jour", "Jour"), ("semaine", "Semaine"), ("mois", "Mois")] {
                        option value=(v) selected[v == c.by_param()] { (label) }
                    }
                }
            }
            button type="submit" { "Afficher" }
        }
        @if let Some(p) = d.problem {
            p class="error" role="alert" { (p) " La période par défaut est affichée." }
        }
        p {
            "Période du " (c.from.format("%d/%m/%Y")) " au " (c.to.format("%d/%m/%Y")) ", " (by_fr(c.by)) ". "
            @if r.total.is_final {
                "Tous les jours de la période sont clos : les chiffres sont définitifs."
            } @else {
                "Des jours de la période ne sont pas encore clos : leurs chiffres sont provisoires (en orange sur les graphiques)."
            }
            " Mêmes chiffres que la commande " code { "ivr report" } "."
        }
        (summary(&r.total))
        (periods(d))
        (transfers(&r.total))
        (flows(d.flows))
        (topics(&r.total))
        @if let Some(csrf) = d.csrf {
            (exports(c, csrf))
        }
    }
}

fn summary(t: &PeriodFigures) -> Markup {
    html! {
        section aria-labelledby="synthese" {
            h2 id="synthese" { "Synthèse de la période" }
            dl class="figures" {
                div { dt { "Appels" } dd id="appels" data-valeur=(t.calls) { (fr_count(t.calls as f64)) } }
                div { dt { "Appels productifs (SC3.2)" } dd id="productifs" data-valeur=(t.productive) { (fr_count(t.productive as f64)) } }
                div { dt { "Heures productives (SC3.2)" } dd id="heures-productives" data-valeur=(t.productive_hours) { (fr_hours(t.productive_hours)) } }
                div { dt { "Taux de déflection" } dd id="deflection" { (opt_pct(t.deflection_rate)) } }
                div { dt { "Transferts vers un conseiller" } dd id="transferts" { (fr_count(t.transferred as f64)) } }
                div { dt { "Abandons" } dd id="abandons" { (fr_count(t.abandoned as f64)) } }
                div { dt { "Taux de réitération" } dd id="reiteration" { (opt_pct(t.reiteration_rate)) } }
                div { dt { "Part moyenne des réponses écoutée" } dd id="ecoute" { (opt_pct(t.avg_heard_ratio)) } }
                div { dt { "Appels masqués" } dd { (fr_count(t.withheld_calls as f64)) } }
                div { dt { "Appels perdus (fin non observée)" } dd { (fr_count(t.lost as f64)) } }
            }
        }
    }
}

fn periods(d: &Dashboard) -> Markup {
    let by = d.choice.by;
    let ps = &d.report.periods;
    let hours: Vec<Datum> = ps.iter().map(|p| Datum { label: short_label(by, p), value: p.productive_hours, provisional: !p.is_final }).collect();
    let deflection: Vec<Datum> =
        ps.iter().map(|p| Datum { label: short_label(by, p), value: p.deflection_rate.unwrap_or(0.0), provisional: !p.is_final }).collect();
    html! {
        section aria-labelledby="par-periode" {
            h2 id="par-periode" { "Heures productives et déflection " (by_fr(by)) }
            @if ps.is_empty() {
                p { "Aucun appel sur la période." }
            } @else {
                (charts::bar_chart("ch-heures", "Heures productives SC3.2", &format!("Heures productives {} ; détail dans le tableau ci-dessous.", by_fr(by)), &hours, charts::Axis::Hours, fr_hours))
                (charts::line_chart("ch-deflection", "Taux de déflection", &format!("Appels productifs sur appels, {} ; détail dans le tableau ci-dessous.", by_fr(by)), &deflection, Some(1.0), charts::Axis::Percent, fr_percent))
                div class="scroll" {
                    table id="table-periodes" {
                        caption { "Chiffres " (by_fr(by)) " (les périodes sans appel ne figurent pas)" }
                        thead { tr {
                            th scope="col" { "Période" } th scope="col" { "État" } th scope="col" { "Appels" } th scope="col" { "Productifs" }
                            th scope="col" { "Heures productives" } th scope="col" { "Déflection" } th scope="col" { "Transferts" }
                            th scope="col" { "Abandons" } th scope="col" { "Réitération" } th scope="col" { "Écoute moyenne" }
                        } }
                        tbody {
                            @for p in ps {
                                tr class=(if p.is_final { "final" } else { "provisional" }) {
                                    th scope="row" { (long_label(by, p)) }
                                    td { (state_fr(p.is_final)) }
                                    td { (p.calls) }
                                    td { (p.productive) }
                                    td data-valeur=(p.productive_hours) { (fr_hours(p.productive_hours)) }
                                    td { (opt_pct(p.deflection_rate)) }
                                    td { (p.transferred) }
                                    td { (p.abandoned) }
                                    td { (opt_pct(p.reiteration_rate)) }
                                    td { (opt_pct(p.avg_heard_ratio)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn transfers(t: &PeriodFigures) -> Markup {
    let data: Vec<Datum> = t.transfer_reasons.iter().map(|(k, v)| Datum { label: k.clone(), value: *v as f64, provisional: false }).collect();
    html! {
        section aria-labelledby="transferts-motifs" {
            h2 id="transferts-motifs" { "Transferts vers un conseiller, par motif" }
            @if data.is_empty() {
                p { "Aucun transfert sur la période." }
            } @else {
                (charts::hbar_chart("ch-transferts", "Transferts par motif", "Nombre de transferts vers un conseiller par motif ; détail dans le tableau.", &data, fr_count))
                table {
                    caption { "Transferts par motif" }
                    thead { tr { th scope="col" { "Motif" } th scope="col" { "Transferts" } } }
                    tbody {
                        @for (reason, n) in &t.transfer_reasons {
                            tr { th scope="row" { (reason) } td { (n) } }
                        }
                    }
                }
            }
        }
    }
}

fn flows(flows: &[(Flow, PeriodFigures)]) -> Markup {
    let data: Vec<Datum> = flows.iter().map(|(f, p)| Datum { label: format!("choix {}", f.number()), value: p.productive_hours, provisional: false }).collect();
    html! {
        section aria-labelledby="parcours" {
            h2 id="parcours" { "Par parcours" }
            (charts::hbar_chart("ch-parcours", "Heures productives par parcours", "Heures productives SC3.2 du choix 2 et du choix 3 ; détail dans le tableau.", &data, fr_hours))
            table {
                caption { "Chiffres par parcours (choix 2 : information générale ; choix 3 : aide caf.fr)" }
                thead { tr {
                    th scope="col" { "Parcours" } th scope="col" { "Appels" } th scope="col" { "Productifs" } th scope="col" { "Heures productives" }
                    th scope="col" { "Déflection" } th scope="col" { "Transferts" } th scope="col" { "Abandons" } th scope="col" { "Réitération" } th scope="col" { "Écoute moyenne" }
                } }
                tbody {
                    @for (f, p) in flows {
                        tr {
                            th scope="row" { "choix " (f.number()) }
                            td { (p.calls) } td { (p.productive) } td { (fr_hours(p.productive_hours)) } td { (opt_pct(p.deflection_rate)) }
                            td { (p.transferred) } td { (p.abandoned) } td { (opt_pct(p.reiteration_rate)) } td { (opt_pct(p.avg_heard_ratio)) }
                        }
                    }
                }
            }
        }
    }
}

fn topics(t: &PeriodFigures) -> Markup {
    let data: Vec<Datum> = t.topics.iter().map(|x| Datum { label: x.topic.clone(), value: x.avg_heard_ratio.unwrap_or(0.0), provisional: false }).collect();
    html! {
        section aria-labelledby="themes" {
            h2 id="themes" { "Par thème" }
            @if t.topics.is_empty() {
                p { "Aucune réponse diffusée sur la période." }
            } @else {
                (charts::hbar_chart("ch-themes", "Part moyenne écoutée des réponses, par thème", "Part moyenne de chaque réponse écoutée par l'appelant ; détail dans le tableau.", &data, fr_percent))
                table {
                    caption { "Réponses par thème" }
                    thead { tr {
                        th scope="col" { "Thème" } th scope="col" { "Appels" } th scope="col" { "Réponses diffusées" } th scope="col" { "Écoute moyenne" }
                        th scope="col" { "Raccrochés pendant la réponse" } th scope="col" { "Transferts après la réponse" }
                    } }
                    tbody {
                        @for x in &t.topics {
                            tr {
                                th scope="row" { (x.topic) }
                                td { (x.calls) } td { (x.answers) } td { (opt_pct(x.avg_heard_ratio)) }
                                td { (opt_pct(x.hangup_during_answer_rate)) } td { (opt_pct(x.transfer_after_answer_rate)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn exports(c: &Choice, csrf: &str) -> Markup {
    html! {
        section aria-labelledby="exports" {
            h2 id="exports" { "Exports de la période" }
            p { "Les fichiers sont ceux de " code { "ivr report" } " pour la même période ; chaque export est inscrit au journal d'audit." }
            form method="post" action="/tableaux/export" class="filters export" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="du" value=(c.from.format("%Y-%m-%d"));
                input type="hidden" name="au" value=(c.to.format("%Y-%m-%d"));
                input type="hidden" name="par" value=(c.by_param());
                div class="stack" {
                    label for="format" { "Fichier" }
                    select id="format" name="format" {
                        @for (v, label) in super::export::CHOICES {
                            option value=(v) { (label) }
                        }
                    }
                }
                button type="submit" { "Télécharger" }
            }
        }
    }
}
