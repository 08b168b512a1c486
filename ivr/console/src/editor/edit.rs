//! The topic form (`/contenu/sujet/{slug}`, `/contenu/nouveau`), retiring a topic, and the
//! system prompts' form (`/contenu/messages`). Saving writes into the shared draft (made
//! from the published version on the first change) and shows the checker's messages for
//! the file next to the form, with their line: an invalid draft is kept, it just cannot be
//! published.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use ivr_accounting::ContentDraft;
use maud::{html, Markup};
use nlu::knowledge::{spoken_seconds, Diagnostic, MAX_ANSWER_SECONDS, MIN_ANSWER_SECONDS};
use serde::Deserialize;
use toml_edit::{DocumentMut, Item, Value};

use super::checked::{self, Checked};
use super::topic_file::{self, lines, TopicFields};
use super::topics::{action_fr, percent, topic_figures};
use super::working::{nothing_published, open_draft, today, topic_path, valid_slug, Working, PROMPTS_PATH};
use super::{subnav, EDIT, READ};
use crate::pages::layout;
use crate::{audit, AppState, Authed, ConsoleError};

const ACTIONS: [&str; 4] = ["answer", "transfer", "redirect-choix1", "procedure"];
const CATALOG_PATH: &str = "knowledge/catalog.tsv";

#[derive(Deserialize, Default)]
pub struct TopicForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    flow: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    keywords: String,
    #[serde(default)]
    examples: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    short_answer: String,
    #[serde(default)]
    sources: String,
    #[serde(default)]
    reviewed: String,
}

impl TopicForm {
    fn fields(&self, slug: &str, flow: u8) -> TopicFields {
        TopicFields {
            slug: slug.to_string(),
            flow,
            title: self.title.trim().to_string(),
            action: self.action.trim().to_string(),
            keywords: lines(&self.keywords),
            examples: lines(&self.examples),
            answer: self.answer.trim().to_string(),
            short_answer: self.short_answer.trim().to_string(),
            sources: lines(&self.sources),
            reviewed: self.reviewed.trim().to_string(),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct SavedQuery {
    #[serde(default)]
    enregistre: Option<String>,
}

/// The checker's messages for one file, each with its line.
fn problems(list: &[&Diagnostic]) -> Markup {
    html! {
        @if list.is_empty() {
            p class="ok" role="status" { "Le vérificateur ne signale aucun problème dans ce fichier." }
        } @else {
            div class="error" role="alert" {
                p { strong { (list.len()) " problème(s) : le brouillon ne pourra pas être publié tant qu'ils restent." } }
                ul {
                    @for d in list {
                        li { "ligne " (d.line) " : " (d.reason) }
                    }
                }
            }
        }
    }
}

fn duration(answer: &str) -> Markup {
    let s = spoken_seconds(answer);
    let ok = (MIN_ANSWER_SECONDS..=MAX_ANSWER_SECONDS).contains(&s);
    html! {
        p class=(if ok { "ok" } else { "error" }) id="duree" {
            "Durée parlée estimée : " strong { (format!("{s:.0} s")) }
            " (règle : entre " (format!("{MIN_ANSWER_SECONDS:.0}")) " et " (format!("{MAX_ANSWER_SECONDS:.0}")) " secondes)."
        }
    }
}

fn topic_form(user: &Authed, action: &str, f: &TopicFields, new: bool, can_edit: bool) -> Markup {
    html! {
        form method="post" action=(action) class="editor" data-check=[(!new && can_edit).then(|| format!("{action}/verifier"))] {
            input type="hidden" name="csrf" value=(user.csrf);
            @if new {
                label for="slug" { "Identifiant (minuscules et tirets, nom du fichier)" }
                input id="slug" name="slug" type="text" required pattern="[a-z0-9]+(-[a-z0-9]+)*" value=(f.slug);
                label for="flow" { "Parcours" }
                select id="flow" name="flow" {
                    option value="2" selected[f.flow == 2] { "choix 2 (informations générales)" }
                    option value="3" selected[f.flow == 3] { "choix 3 (caf.fr et application)" }
                }
            }
            label for="title" { "Titre" }
            input id="title" name="title" type="text" value=(f.title);
            label for="action" { "Action" }
            select id="action" name="action" {
                @for a in ACTIONS {
                    option value=(a) selected[f.action == a] { (action_fr(a)) }
                }
            }
            label for="answer" { "Réponse (ce que dit le robot ; une phrase par ligne)" }
            textarea id="answer" name="answer" rows="9" { (f.answer) }
            label for="short_answer" { "Réponse courte (jouée à la deuxième demande de répétition ; facultative)" }
            textarea id="short_answer" name="short_answer" rows="3" { (f.short_answer) }
            label for="keywords" { "Mots-clés (un par ligne)" }
            textarea id="keywords" name="keywords" rows="4" { (f.keywords.join("\n")) }
            label for="examples" { "Formulations d'exemple (une par ligne, comme un appelant la dirait)" }
            textarea id="examples" name="examples" rows="10" { (f.examples.join("\n")) }
            label for="sources" { "Sources (une adresse par ligne)" }
            textarea id="sources" name="sources" rows="3" { (f.sources.join("\n")) }
            label for="reviewed" { "Relu le (AAAA-MM-JJ)" }
            input id="reviewed" name="reviewed" type="text" value=(f.reviewed);
            @if can_edit {
                button type="submit" { "Enregistrer dans le brouillon" }
            }
        }
    }
}

pub async fn form(State(state): State<AppState>, user: Authed, Path(slug): Path<String>, Query(q): Query<SavedQuery>) -> Result<Response, ConsoleError> {
    user.require(READ)?;
    let working = Working::load(&state).await?;
    let Some(snap) = working.current() else {
        return Ok(nothing_published(&user).into_response());
    };
    let path = topic_path(&slug);
    let Some(text) = snap.files.get(&path).filter(|_| valid_slug(&slug)) else {
        return Err(ConsoleError::NotFound);
    };
    let f = topic_file::read(text).unwrap_or_else(|_| TopicFields { slug: slug.clone(), ..Default::default() });
    let checked = checked::check(snap, today(&state)).await?;
    let figures = topic_figures(&state).await?;
    let fig = figures.get(&slug);
    let can_edit = EDIT.contains(&user.account.role);
    let spoken = ivr_dialogue::tts::pronounce::prepare(f.answer.trim());
    let body = html! {
        (subnav(&user))
        @if q.enregistre.is_some() {
            p class="ok" role="status" { "Enregistré dans le brouillon." }
        }
        p {
            "Parcours choix " (f.flow) " · fichier " code { (path) }
            @if working.draft.is_some() { " · version du brouillon" } @else { " · version publiée" }
        }
        p class="figures" {
            "30 derniers jours : " strong { (fig.map_or(0, |x| x.answers)) } " réponse(s) jouée(s), écoute moyenne "
            strong { (percent(fig.and_then(|x| x.avg_heard_ratio))) } ", raccroché pendant la réponse "
            strong { (percent(fig.and_then(|x| x.hangup_during_answer_rate))) } ", transféré après "
            strong { (percent(fig.and_then(|x| x.transfer_after_answer_rate))) } "."
        }
        div class="columns" {
            div {
                (topic_form(&user, &format!("/contenu/sujet/{slug}"), &f, false, can_edit))
            }
            aside aria-label="Vérification et écoute" {
                h2 { "Vérification" }
                div id="verification" aria-live="polite" {
                    (problems(&checked.problems_of(&path)))
                    (duration(&f.answer))
                }
                h2 { "Écouter" }
                audio id="ecoute" controls preload="none" aria-label="La réponse dite par la voix du service" src={ "/contenu/sujet/" (slug) "/ecouter.wav?v=" (&checked.digest[..12]) } {
                    a href={ "/contenu/sujet/" (slug) "/ecouter.wav" } { "Télécharger la réponse parlée" }
                }
                p { "Texte prononcé par la voix (après les corrections de prononciation) :" }
                blockquote id="prononce" { (spoken) }
                @if can_edit {
                    h2 { "Retirer ce sujet" }
                    form method="post" action={ "/contenu/sujet/" (slug) "/retirer" } {
                        input type="hidden" name="csrf" value=(user.csrf);
                        button type="submit" class="danger" { "Retirer du brouillon" }
                    }
                }
            }
        }
    };
    Ok(layout(&format!("Sujet : {}", f.title), Some(&user), html! { (body) script src="/console.js" defer {} }).into_response())
}

/// `POST /contenu/sujet/{slug}/verifier`: the checker's verdict on the form as typed,
/// without saving (the page's script asks it while the editor types). An HTML fragment.
pub async fn verify(State(state): State<AppState>, user: Authed, Path(slug): Path<String>, Form(form): Form<TopicForm>) -> Result<Response, ConsoleError> {
    user.require(EDIT)?;
    user.check_csrf(&form.csrf)?;
    let working = Working::load(&state).await?;
    let Some(mut snap) = working.current().cloned() else {
        return Err(ConsoleError::NotFound);
    };
    let path = topic_path(&slug);
    let Some(original) = snap.files.get(&path).filter(|_| valid_slug(&slug)).cloned() else {
        return Err(ConsoleError::NotFound);
    };
    let flow = topic_file::read(&original).map(|f| f.flow).unwrap_or(2);
    let fields = form.fields(&slug, flow);
    let text = topic_file::write(Some(&original), &fields).or_else(|_| topic_file::write(None, &fields)).map_err(ConsoleError::Internal)?;
    snap.files.insert(path.clone(), text);
    let checked = checked::check(&snap, today(&state)).await?;
    let fragment = html! { (problems(&checked.problems_of(&path))) (duration(&fields.answer)) };
    Ok(Html(fragment.into_string()).into_response())
}

/// Saves `draft` and writes the action to the audit log.
async fn save_draft(state: &AppState, user: &Authed, draft: &ContentDraft, action: &str, target: &str) -> Result<(), ConsoleError> {
    state.store()?.save_content_draft(draft).await?;
    audit(state, user.name(), action, target, "").await
}

pub async fn save(State(state): State<AppState>, user: Authed, Path(slug): Path<String>, Form(form): Form<TopicForm>) -> Result<Response, ConsoleError> {
    user.require(EDIT)?;
    user.check_csrf(&form.csrf)?;
    let Some((_lock, mut draft)) = open_draft(&state, user.name()).await? else {
        return Ok(nothing_published(&user).into_response());
    };
    let path = topic_path(&slug);
    let Some(original) = draft.snapshot.files.get(&path).filter(|_| valid_slug(&slug)).cloned() else {
        return Err(ConsoleError::NotFound);
    };
    let flow = topic_file::read(&original).map(|f| f.flow).unwrap_or(2);
    let text = match topic_file::write(Some(&original), &form.fields(&slug, flow)) {
        Ok(t) => t,
        // The stored file is not TOML any more: start it again from the form.
        Err(_) => topic_file::write(None, &form.fields(&slug, flow)).map_err(ConsoleError::Internal)?,
    };
    draft.snapshot.files.insert(path, text);
    save_draft(&state, &user, &draft, "content-edit", &format!("topic:{slug}")).await?;
    Ok(Redirect::to(&format!("/contenu/sujet/{slug}?enregistre=1")).into_response())
}

pub async fn new_form(user: Authed) -> Result<Html<String>, ConsoleError> {
    user.require(EDIT)?;
    let f = TopicFields { flow: 2, action: "answer".into(), ..Default::default() };
    Ok(layout("Nouveau sujet", Some(&user), html! { (subnav(&user)) (topic_form(&user, "/contenu/nouveau", &f, true, true)) }))
}

pub async fn create(State(state): State<AppState>, user: Authed, Form(form): Form<TopicForm>) -> Result<Response, ConsoleError> {
    user.require(EDIT)?;
    user.check_csrf(&form.csrf)?;
    let slug = form.slug.trim().to_string();
    let flow: u8 = if form.flow.trim() == "3" { 3 } else { 2 };
    let refuse = |why: &str| {
        let f = form.fields(&slug, flow);
        let page = layout(
            "Nouveau sujet",
            Some(&user),
            html! { (subnav(&user)) p class="error" role="alert" { (why) } (topic_form(&user, "/contenu/nouveau", &f, true, true)) },
        );
        Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    if !valid_slug(&slug) {
        return refuse("L'identifiant doit être fait de minuscules sans accent, de chiffres et de tirets (par exemple aide-logement).");
    }
    let Some((_lock, mut draft)) = open_draft(&state, user.name()).await? else {
        return Ok(nothing_published(&user).into_response());
    };
    let path = topic_path(&slug);
    if draft.snapshot.files.contains_key(&path) {
        return refuse("Un sujet porte déjà cet identifiant.");
    }
    let text = topic_file::write(None, &form.fields(&slug, flow)).map_err(ConsoleError::Internal)?;
    draft.snapshot.files.insert(path, text);
    if let Some(catalog) = draft.snapshot.files.get_mut(CATALOG_PATH) {
        if !catalog.ends_with('\n') && !catalog.is_empty() {
            catalog.push('\n');
        }
        catalog.push_str(&format!("{slug}\t{flow}\n"));
    }
    save_draft(&state, &user, &draft, "content-topic-add", &format!("topic:{slug}")).await?;
    Ok(Redirect::to(&format!("/contenu/sujet/{slug}?enregistre=1")).into_response())
}

#[derive(Deserialize, Default)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn retire(State(state): State<AppState>, user: Authed, Path(slug): Path<String>, Form(form): Form<CsrfOnly>) -> Result<Response, ConsoleError> {
    user.require(EDIT)?;
    user.check_csrf(&form.csrf)?;
    let Some((_lock, mut draft)) = open_draft(&state, user.name()).await? else {
        return Ok(nothing_published(&user).into_response());
    };
    if !valid_slug(&slug) || draft.snapshot.files.remove(&topic_path(&slug)).is_none() {
        return Err(ConsoleError::NotFound);
    }
    if let Some(catalog) = draft.snapshot.files.get_mut(CATALOG_PATH) {
        let kept: Vec<&str> = catalog.lines().filter(|l| l.split('\t').next().map(str::trim) != Some(slug.as_str())).collect();
        *catalog = format!("{}\n", kept.join("\n"));
    }
    save_draft(&state, &user, &draft, "content-topic-retire", &format!("topic:{slug}")).await?;
    Ok(Redirect::to("/contenu/relecture").into_response())
}

/// Prompt id → text, in file order.
fn prompt_texts(text: &str) -> Vec<(String, String)> {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    doc.iter().filter_map(|(id, item)| Some((id.to_string(), item.get("text")?.as_str()?.to_string()))).collect()
}

fn prompts_page(user: &Authed, texts: &[(String, String)], checked: &Checked, saved: bool) -> Html<String> {
    let can_edit = EDIT.contains(&user.account.role);
    layout(
        "Messages système",
        Some(user),
        html! {
            (subnav(user))
            @if saved {
                p class="ok" role="status" { "Enregistré dans le brouillon." }
            }
            (problems(&checked.problems_of(PROMPTS_PATH)))
            p { "Les " code { "{a}" } " et " code { "{b}" } " sont remplacés par les titres des sujets au moment de l'appel." }
            form method="post" action="/contenu/messages" class="editor" {
                input type="hidden" name="csrf" value=(user.csrf);
                @for (id, text) in texts {
                    label for={ "p-" (id) } { code { (id) } }
                    textarea id={ "p-" (id) } name={ "p:" (id) } rows="3" { (text) }
                }
                @if can_edit {
                    button type="submit" { "Enregistrer dans le brouillon" }
                }
            }
        },
    )
}

pub async fn prompts_form(State(state): State<AppState>, user: Authed, Query(q): Query<SavedQuery>) -> Result<Response, ConsoleError> {
    user.require(EDIT)?;
    let working = Working::load(&state).await?;
    let Some(snap) = working.current() else {
        return Ok(nothing_published(&user).into_response());
    };
    let texts = prompt_texts(snap.files.get(PROMPTS_PATH).map(String::as_str).unwrap_or(""));
    let checked = checked::check(snap, today(&state)).await?;
    Ok(prompts_page(&user, &texts, &checked, q.enregistre.is_some()).into_response())
}

pub async fn save_prompts(State(state): State<AppState>, user: Authed, Form(form): Form<BTreeMap<String, String>>) -> Result<Response, ConsoleError> {
    user.require(EDIT)?;
    user.check_csrf(form.get("csrf").map(String::as_str).unwrap_or(""))?;
    let Some((_lock, mut draft)) = open_draft(&state, user.name()).await? else {
        return Ok(nothing_published(&user).into_response());
    };
    let original = draft.snapshot.files.get(PROMPTS_PATH).cloned().unwrap_or_default();
    let mut doc: DocumentMut = original.parse().map_err(|e: toml_edit::TomlError| ConsoleError::Internal(e.to_string()))?;
    let mut changed = Vec::new();
    for (key, value) in &form {
        let Some(id) = key.strip_prefix("p:") else { continue };
        let value = value.trim().replace("\r\n", " ").replace('\n', " ");
        let Some(table) = doc.get_mut(id).and_then(Item::as_table_like_mut) else { continue };
        if table.get("text").and_then(Item::as_str) == Some(value.as_str()) {
            continue;
        }
        let decor = table.get("text").and_then(Item::as_value).map(|v| v.decor().clone());
        let mut v = Value::from(value);
        if let Some(d) = decor {
            *v.decor_mut() = d;
        }
        table.insert("text", Item::Value(v));
        changed.push(id.to_string());
    }
    if !changed.is_empty() {
        draft.snapshot.files.insert(PROMPTS_PATH.to_string(), doc.to_string());
        state.store()?.save_content_draft(&draft).await?;
        audit(&state, user.name(), "content-prompts-edit", "prompts", &changed.join(",")).await?;
    }
    Ok(Redirect::to("/contenu/messages?enregistre=1").into_response())
}
