//! The editors' pages through `tower::ServiceExt::oneshot` on a fresh SQLite database
//! holding the repository's content as published version 1: an editor's change goes to the
//! shared draft (audited) and cannot be published by them; a publisher publishes it (new
//! version, published pointer moved, draft dropped, audited); a draft the checker refuses
//! is refused at publication with the checker's message; rollback publishes a new version
//! equal to the old snapshot; an analyst reads but cannot change; a form without its CSRF
//! token changes nothing; the inbox groups two phrasings of one `@none` question written as
//! call events, and "ajouter comme formulation" teaches it to the draft's matcher.

use std::path::Path;

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use ivr_accounting::{Caller, ContentSnapshot, Event, EventKind, Flow, Role, Store};
use ivr_console::{AppState, ConsoleConfig, Health};
use nlu::knowledge::KnowledgeBase;
use nlu::Matcher;
use tower::ServiceExt;

#[path = "../../../tests/support/postgres.rs"]
mod postgres;

struct Console {
    store: Store,
    app: Router,
    v1: i64,
    _dir: tempfile::TempDir,
}

/// A logged-in user: the session cookie and the CSRF token of their forms.
struct User {
    cookie: String,
    csrf: String,
}

fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shipped() -> ContentSnapshot {
    ContentSnapshot::from_dirs(&repo().join("knowledge"), &repo().join("prompts/prompts.toml")).unwrap()
}

impl Console {
    /// A console on a fresh SQLite file.
    async fn new() -> Console {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.sqlite").display());
        Console::on(&url, dir).await
    }

    /// A console on the database at `url` (`dir` lives as long as the console).
    async fn on(url: &str, dir: tempfile::TempDir) -> Console {
        let store = Store::connect(url).await.unwrap();
        let state = AppState::new(
            Some(store.clone()),
            ConsoleConfig::default(),
            false,
            Health { version: "test", sip_up: Default::default(), content_version: Default::default() },
        );
        let v1 = store.create_content_version(&shipped(), "import", "contenu du dépôt", &[], Utc::now()).await.unwrap();
        store.publish_content_version(v1, "import", Utc::now()).await.unwrap();
        Console { store, app: ivr_console::router(state), v1, _dir: dir }
    }

    async fn user(&self, name: &str, role: Role) -> User {
        let id = self.store.create_account(name, role, "unused-hash", Utc::now()).await.unwrap().unwrap();
        let (token, csrf) = (format!("{:0>64}", id), format!("c{:0>63}", id));
        self.store.create_session(id, &token, &csrf, Utc::now()).await.unwrap();
        User { cookie: format!("ivr_session={token}"), csrf }
    }

    async fn send(&self, req: Request<Body>) -> (Response<Body>, String) {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (Response::from_parts(parts, Body::empty()), String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn get(&self, path: &str, u: &User) -> (StatusCode, String) {
        let (res, body) = self.send(Request::get(path).header(header::COOKIE, &u.cookie).body(Body::empty()).unwrap()).await;
        (res.status(), body)
    }

    /// POSTs `fields` (the session's CSRF token added unless `csrf` is false).
    async fn post(&self, path: &str, u: &User, fields: &[(&str, &str)], csrf: bool) -> (StatusCode, String, String) {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if csrf {
            all.push(("csrf", &u.csrf));
        }
        let body = all.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
        let req = Request::post(path)
            .header(header::COOKIE, &u.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let (res, text) = self.send(req).await;
        let location = res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        (res.status(), location, text)
    }

    async fn actions(&self) -> Vec<(String, String, String)> {
        self.store.audit_entries(1000).await.unwrap().into_iter().map(|e| (e.actor, e.action, e.target)).collect()
    }

    async fn published(&self) -> (i64, ContentSnapshot) {
        let (_, v) = self.store.published_content().await.unwrap().unwrap();
        let (v, s) = self.store.content_version(v.id).await.unwrap().unwrap();
        (v.id, s)
    }
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// The topic form's fields for `slug` as shipped, with `answer` and `reviewed` replaced.
fn topic_form(slug: &str, answer: &str, reviewed: &str) -> Vec<(String, String)> {
    let t: toml::Table = toml::from_str(&std::fs::read_to_string(repo().join(format!("knowledge/{slug}.toml"))).unwrap()).unwrap();
    let list = |k: &str| t.get(k).and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("\n")).unwrap_or_default();
    let s = |k: &str| t.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    vec![
        ("title".into(), s("title")),
        ("action".into(), s("action")),
        ("keywords".into(), list("keywords")),
        ("examples".into(), list("examples")),
        ("answer".into(), answer.to_string()),
        ("short_answer".into(), s("short_answer")),
        ("sources".into(), list("sources")),
        ("reviewed".into(), reviewed.to_string()),
    ]
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

const NEW_ANSWER: &str = "L'allocation aux adultes handicapés assure un revenu minimum aux personnes handicapées.\n\
La demande se fait d'abord auprès de la MDPH, la maison départementale des personnes handicapées.\n\
C'est elle qui évalue votre handicap et décide, puis la Caf étudie vos ressources et verse l'allocation.\n\
Les revenus de votre conjoint ne sont plus pris en compte depuis octobre 2023.\n\
Pensez à déclarer tout changement de situation sur caf point f r.";

#[tokio::test]
async fn an_editor_drafts_and_a_publisher_publishes() {
    publish_flow(Console::new().await).await;
}

/// The same flows on PostgreSQL (a server of the test's own, one database per flow).
#[tokio::test]
async fn drafts_publication_and_inbox_on_postgres() {
    let Some(pg) = postgres::OwnPostgres::start() else { return };
    for (db, inbox) in [("editor_publish", false), ("editor_inbox", true)] {
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&pg.url()).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {db}")).execute(&mut admin).await.unwrap();
        let url = pg.url().replace("/postgres", &format!("/{db}"));
        let c = Console::on(&url, tempfile::tempdir().unwrap()).await;
        if inbox {
            inbox_flow(c).await;
        } else {
            publish_flow(c).await;
        }
    }
}

async fn publish_flow(c: Console) {
    let editor = c.user("red.acteur", Role::Editor).await;
    let publisher = c.user("pub.lieur", Role::Publisher).await;

    let (status, page) = c.get("/contenu", &editor).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Allocation aux adultes handicapés") && page.contains("Réponses jouées"), "{page}");
    let (status, page) = c.get("/contenu/sujet/aah", &editor).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("name=\"answer\"") && page.contains("ecouter.wav") && page.contains("Durée parlée estimée"));

    // The editor's change goes to the draft, audited; the published version does not move.
    let form = topic_form("aah", NEW_ANSWER, "2026-11-30");
    let (status, location, _) = c.post("/contenu/sujet/aah", &editor, &pairs(&form), true).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/contenu/sujet/aah?enregistre=1"));
    let draft = c.store.content_draft().await.unwrap().expect("a draft");
    assert_eq!(draft.base_version, Some(c.v1));
    assert_eq!(draft.updated_by, "red.acteur");
    let t: toml::Table = toml::from_str(&draft.snapshot.files["knowledge/aah.toml"]).unwrap();
    assert_eq!(t["answer"].as_str().map(str::trim), Some(NEW_ANSWER));
    assert!(draft.snapshot.files["knowledge/aah.toml"].contains("reviewed = 2026-11-30"));
    assert!(c.actions().await.contains(&("red.acteur".into(), "content-edit".into(), "topic:aah".into())));
    assert_eq!(c.published().await.0, c.v1);

    // The review shows the change field by field.
    let (status, page) = c.get("/contenu/relecture", &editor).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Sujet modifié") && page.contains("Réponse") && page.contains("Relu le"), "{page}");
    assert!(!page.contains("action=\"/contenu/publier\""), "no publish form for an editor");

    // An editor cannot publish.
    let (status, _, _) = c.post("/contenu/publier", &editor, &[("note", "essai")], true).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(c.published().await.0, c.v1);

    // A publisher can: a new version, published, the draft dropped, audited.
    let (status, location, _) = c.post("/contenu/publier", &publisher, &[("note", "AAH : réponse reformulée")], true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (v2, snap) = c.published().await;
    assert!(v2 > c.v1);
    assert_eq!(location, format!("/contenu/version/{v2}"));
    assert_eq!(snap, draft.snapshot);
    assert!(c.store.content_draft().await.unwrap().is_none());
    let versions = c.store.content_versions(10).await.unwrap();
    assert_eq!((versions[0].author.as_str(), versions[0].note.as_str()), ("pub.lieur", "AAH : réponse reformulée"));
    assert!(c.actions().await.contains(&("pub.lieur".into(), "content-publish".into(), format!("version:{v2}"))));

    // History and the version page show it.
    let (_, page) = c.get("/contenu/historique", &editor).await;
    assert!(page.contains(&format!("Version {v2}")) && page.contains("publiée actuellement"));
    let (_, page) = c.get(&format!("/contenu/version/{v2}"), &publisher).await;
    assert!(page.contains(&format!("Changements depuis la version {}", c.v1)) && page.contains("Sujet modifié"));
    assert!(page.contains("Relu le"));

    // Rollback: refused to an editor; a publisher's makes a new version equal to version 1.
    let (status, _, _) = c.post(&format!("/contenu/version/{}/retablir", c.v1), &editor, &[], true).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = c.post(&format!("/contenu/version/{}/retablir", c.v1), &publisher, &[], true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (v3, snap) = c.published().await;
    assert!(v3 > v2);
    assert_eq!(snap, shipped());
    assert!(c.actions().await.contains(&("pub.lieur".into(), "content-rollback".into(), format!("version:{v3}"))));
}

#[tokio::test]
async fn a_draft_with_a_checker_error_is_saved_but_not_published() {
    let c = Console::new().await;
    let editor = c.user("red.acteur", Role::Editor).await;
    let publisher = c.user("pub.lieur", Role::Publisher).await;
    let form = topic_form("aah", "", "2026-11-30");
    let (status, _, _) = c.post("/contenu/sujet/aah", &editor, &pairs(&form), true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(c.store.content_draft().await.unwrap().is_some(), "an invalid draft is kept");
    // The topic page shows the checker's message with its line.
    let (_, page) = c.get("/contenu/sujet/aah", &editor).await;
    assert!(page.contains("answer is empty") && page.contains("ligne "), "{page}");

    let (status, _, page) = c.post("/contenu/publier", &publisher, &[("note", "essai")], true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("ne peut pas être publié") && page.contains("knowledge/aah.toml") && page.contains("answer is empty"), "{page}");
    assert_eq!(c.published().await.0, c.v1);
    assert_eq!(c.store.content_versions(10).await.unwrap().len(), 1, "no version made");
    assert!(c.actions().await.iter().any(|(a, act, _)| a == "pub.lieur" && act == "content-publish-refused"));

    // A bad reviewed date is reported the same way.
    let form = topic_form("aah", NEW_ANSWER, "31/11/2026");
    c.post("/contenu/sujet/aah", &editor, &pairs(&form), true).await;
    let (_, page) = c.get("/contenu/sujet/aah", &editor).await;
    assert!(page.contains("reviewed"), "{page}");
    assert!(!page.contains("answer is empty"));
}

#[tokio::test]
async fn roles_and_csrf_guard_every_change() {
    let c = Console::new().await;
    let analyst = c.user("ana.lyste", Role::Analyst).await;
    let editor = c.user("red.acteur", Role::Editor).await;
    let agent = c.user("agent.dupont", Role::Agent).await;
    // The analyst reads topics, figures and history, and changes nothing.
    assert_eq!(c.get("/contenu", &analyst).await.0, StatusCode::OK);
    assert_eq!(c.get("/contenu/historique", &analyst).await.0, StatusCode::OK);
    let (_, page) = c.get("/contenu/sujet/aah", &analyst).await;
    assert!(!page.contains("Enregistrer dans le brouillon"));
    let form = topic_form("aah", NEW_ANSWER, "2026-11-30");
    assert_eq!(c.post("/contenu/sujet/aah", &analyst, &pairs(&form), true).await.0, StatusCode::FORBIDDEN);
    assert_eq!(c.post("/contenu/sujet/aah/retirer", &analyst, &[], true).await.0, StatusCode::FORBIDDEN);
    assert_eq!(c.get("/contenu/questions", &analyst).await.0, StatusCode::FORBIDDEN);
    // Other roles see nothing of the content pages.
    assert_eq!(c.get("/contenu", &agent).await.0, StatusCode::FORBIDDEN);
    // Without the CSRF token: refused, nothing saved.
    let (status, _, page) = c.post("/contenu/sujet/aah", &editor, &pairs(&form), false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Formulaire expiré"));
    assert_eq!(c.post("/contenu/questions/marquer", &editor, &[("action", "ignorer"), ("keys", &"a".repeat(64))], false).await.0, StatusCode::FORBIDDEN);
    assert!(c.store.content_draft().await.unwrap().is_none());
    assert!(c.store.inbox_marks().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_inbox_groups_questions_and_teaches_the_draft() {
    inbox_flow(Console::new().await).await;
}

async fn inbox_flow(c: Console) {
    let editor = c.user("red.acteur", Role::Editor).await;
    let t0 = Utc::now() - Duration::hours(5);
    let mut events = Vec::new();
    for (i, text) in ["Comment obtenir la carte famille nombreuse ?", "comment obtenir la carte de famille nombreuse", "mon voisin fait trop de bruit la nuit"]
        .iter()
        .enumerate()
    {
        let call = format!("call-{i}");
        let at = t0 + Duration::minutes(i as i64);
        events.push(Event::new(&call, at, EventKind::Started { flow: Flow::Choix2, caller: Caller::Withheld }));
        events.push(Event::new(&call, at + Duration::seconds(9), EventKind::Question { transcript: text.to_string(), intent: "@none".into(), score: 0.5 }));
    }
    // An answered question is not in the inbox.
    events.push(Event::new("call-9", t0, EventKind::Question { transcript: "mon aah".into(), intent: "aah".into(), score: 0.9 }));
    c.store.write_batch(&events, &[]).await.unwrap();

    let (status, page) = c.get("/contenu/questions", &editor).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("— 2 fois"), "two phrasings, one group: {page}");
    assert!(page.contains("comment obtenir la carte de famille nombreuse") && page.contains("Comment obtenir la carte famille nombreuse ?"));
    assert!(page.contains("mon voisin fait trop de bruit la nuit") && !page.contains("mon aah"));
    assert!(c.actions().await.iter().any(|(a, act, _)| a == "red.acteur" && act == "inbox-read"), "the read of transcripts is audited");
    // The group's form: its keys, prefilled with the most said phrasing.
    let at = page.find("— 2 fois").unwrap();
    let form = &page[at..];
    let keys = form.split("name=\"keys\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let text = "comment obtenir la carte famille nombreuse";

    let (status, location, _) = c
        .post("/contenu/questions/marquer", &editor, &[("keys", &keys), ("action", "formulation"), ("topic", "complement-familial"), ("text", text)], true)
        .await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/contenu/sujet/complement-familial?enregistre=1"));
    let draft = c.store.content_draft().await.unwrap().expect("draft");
    assert!(draft.snapshot.files["knowledge/complement-familial.toml"].contains(text));
    assert!(c.actions().await.iter().any(|(a, act, target)| a == "red.acteur" && act == "inbox-phrasing" && target == "topic:complement-familial"));
    // The handled group leaves the inbox; the other stays.
    let (_, page) = c.get("/contenu/questions", &editor).await;
    assert!(!page.contains("carte famille nombreuse") && page.contains("mon voisin fait trop de bruit"), "{page}");

    // The draft's matcher now answers the question with that topic (the published one did not).
    let dir = tempfile::tempdir().unwrap();
    draft.snapshot.write_to(dir.path()).unwrap();
    let m = Matcher::build(&KnowledgeBase::load(dir.path().join("knowledge")).unwrap()).unwrap();
    assert_eq!(m.classify(text).unwrap().intent, "complement-familial");
    let m0 = Matcher::build(&KnowledgeBase::load(repo().join("knowledge")).unwrap()).unwrap();
    assert_eq!(m0.classify(text).unwrap().intent, "@none");
    // The try-it page shows both decisions side by side.
    let (_, page) = c.get(&format!("/contenu/essayer?q={}", enc(text)), &editor).await;
    assert!(page.contains("complement-familial") && page.contains("@none"), "{page}");

    // "Hors périmètre" goes to the @none phrasings; "ignorer" only marks.
    let (_, page) = c.get("/contenu/questions", &editor).await;
    let keys = page.split("name=\"keys\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let (status, _, _) = c
        .post("/contenu/questions/marquer", &editor, &[("keys", &keys), ("action", "hors-perimetre"), ("text", "mon voisin fait trop de bruit la nuit")], true)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let draft = c.store.content_draft().await.unwrap().unwrap();
    assert!(draft.snapshot.files["knowledge/_intents/none.toml"].contains("mon voisin fait trop de bruit la nuit"));
    let (_, page) = c.get("/contenu/questions", &editor).await;
    assert!(page.contains("Aucune question en attente"), "{page}");
    assert_eq!(c.store.inbox_marks().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_draft_equal_to_the_published_version_is_dropped_not_published() {
    let c = Console::new().await;
    let publisher = c.user("pub.lieur", Role::Publisher).await;
    let draft = ivr_accounting::ContentDraft { snapshot: shipped(), base_version: Some(c.v1), updated_at: Utc::now(), updated_by: "red.acteur".into() };
    c.store.save_content_draft(&draft).await.unwrap();
    let (status, location, _) = c.post("/contenu/publier", &publisher, &[("note", "rien")], true).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/contenu/historique"));
    assert_eq!(c.store.content_versions(10).await.unwrap().len(), 1);
    assert!(c.store.content_draft().await.unwrap().is_none());
}

#[tokio::test]
async fn topics_are_added_and_retired_prompts_edited_and_instances_shown() {
    let c = Console::new().await;
    let editor = c.user("red.acteur", Role::Editor).await;
    // A new topic: its file and its catalogue line in the draft; a bad slug is refused.
    let mut form = topic_form("aah", NEW_ANSWER, "2026-11-30");
    form.push(("slug".into(), "Mauvais Nom".into()));
    assert_eq!(c.post("/contenu/nouveau", &editor, &pairs(&form), true).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    form.pop();
    form.push(("slug".into(), "aide-essai".into()));
    form.push(("flow".into(), "3".into()));
    let (status, location, _) = c.post("/contenu/nouveau", &editor, &pairs(&form), true).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/contenu/sujet/aide-essai?enregistre=1"));
    let draft = c.store.content_draft().await.unwrap().unwrap();
    assert!(draft.snapshot.files["knowledge/aide-essai.toml"].contains("slug = \"aide-essai\"\nflow = 3"));
    assert!(draft.snapshot.files["knowledge/catalog.tsv"].contains("aide-essai\t3\n"));
    // Retired: file and catalogue line gone; the review says so.
    let (status, _, _) = c.post("/contenu/sujet/aeeh/retirer", &editor, &[], true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let draft = c.store.content_draft().await.unwrap().unwrap();
    assert!(!draft.snapshot.files.contains_key("knowledge/aeeh.toml"));
    assert!(!draft.snapshot.files["knowledge/catalog.tsv"].lines().any(|l| l.starts_with("aeeh\t")));
    let (_, page) = c.get("/contenu/relecture", &editor).await;
    assert!(page.contains("Sujet retiré") && page.contains("Nouveau sujet"), "{page}");
    // A prompt's text.
    let (status, page) = c.get("/contenu/messages", &editor).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("name=\"p:ask_question\""));
    let text = "Quelle est votre question ? Dites-la en une phrase.";
    let (status, _, _) = c.post("/contenu/messages", &editor, &[("p:ask_question", text)], true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let draft = c.store.content_draft().await.unwrap().unwrap();
    let prompts: toml::Table = toml::from_str(&draft.snapshot.files["prompts/prompts.toml"]).unwrap();
    assert_eq!(prompts["ask_question"]["text"].as_str(), Some(text));
    assert!(draft.snapshot.files["prompts/prompts.toml"].starts_with("# System prompts"), "comments kept");
    assert!(c.actions().await.iter().any(|(_, a, _)| a == "content-prompts-edit"));
    // Discarding the draft.
    assert_eq!(c.post("/contenu/brouillon/abandonner", &editor, &[], true).await.0, StatusCode::SEE_OTHER);
    assert!(c.store.content_draft().await.unwrap().is_none());

    // An instance that failed to load the published version: a banner on the history.
    let (_, page) = c.get("/contenu/historique", &editor).await;
    assert!(!page.contains("instances-alerte"));
    let report =
        ivr_accounting::InstanceContent { instance: "ivr-b".into(), version: c.v1, ok: false, detail: "knowledge/aah.toml:3: bad".into(), at: Utc::now() };
    c.store.report_instance_content(&report).await.unwrap();
    let (_, page) = c.get("/contenu/historique", &editor).await;
    assert!(page.contains("instances-alerte") && page.contains("ivr-b") && page.contains("échec du chargement"), "{page}");
}

#[tokio::test]
async fn a_topic_shows_the_figures_of_its_answer() {
    let c = Console::new().await;
    let analyst = c.user("ana.lyste", Role::Analyst).await;
    let t = Utc::now() - Duration::hours(2);
    let events = vec![
        Event::new("r1", t, EventKind::Started { flow: Flow::Choix2, caller: Caller::Withheld }),
        Event::new("r1", t + Duration::seconds(1), EventKind::Answered),
        Event::new("r1", t + Duration::seconds(9), EventKind::Question { transcript: "l'aah".into(), intent: "aah".into(), score: 0.9 }),
        Event::new(
            "r1",
            t + Duration::seconds(25),
            EventKind::Played { what: ivr_accounting::Playback::Answer("aah".into()), total_ms: 30_000, played_ms: 15_000 },
        ),
        Event::new("r1", t + Duration::seconds(25), EventKind::Ended { by: ivr_accounting::EndedBy::Caller }),
    ];
    let record = ivr_accounting::CallRecord::from_events(&events).unwrap();
    c.store.write_batch(&[], &[record]).await.unwrap();
    let (_, page) = c.get("/contenu/sujet/aah", &analyst).await;
    assert!(page.contains("<strong>1</strong> réponse(s) jouée(s), écoute moyenne <strong>50 %</strong>"), "{page}");
    assert!(page.contains("raccroché pendant la réponse <strong>100 %</strong>"), "{page}");
    let (_, page) = c.get("/contenu", &analyst).await;
    assert!(page.contains("50 %"));
}
