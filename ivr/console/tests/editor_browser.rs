//! The editors' pages in a real browser (headless Chromium over WebDriver, the shared
//! harness of `common/`): an editor opens a topic, empties its answer and sees the
//! checker's message, fixes it, the `<audio>` element loads the answer said by the
//! production voice (a WAV whose length fits the text), tries a question, looks at the
//! inbox, logs out; a publisher reviews the diff and publishes, the history shows the new
//! version, and a rollback publishes the first one again. Screenshots of each page go to
//! `target/<profile>/tmp/console-editor/`. Skipped without chromedriver, except under CI.

mod common;

use std::path::Path;

use chrono::{Duration, Utc};
use common::{Driver, PASSWORD};
use ivr_accounting::{Caller, ContentSnapshot, Event, EventKind, Flow, Role, Store};
use ivr_console::password;
use serde_json::{json, Value};

const NEW_ANSWER: &str = "L'allocation aux adultes handicapés assure un revenu minimum aux personnes handicapées.\n\
La demande se fait d'abord auprès de la MDPH, la maison départementale des personnes handicapées.\n\
C'est elle qui évalue votre handicap et décide, puis la Caf étudie vos ressources et verse l'allocation.\n\
Les revenus de votre conjoint ne sont plus pris en compte depuis octobre 2023.\n\
Pensez à déclarer tout changement de situation sur caf point f r.";

/// Replaces the text of a field (WebDriver clear, then keys).
async fn set_field(b: &Driver, css: &str, text: &str) {
    let id = b.element(css).await;
    b.call("POST", &format!("/element/{id}/clear"), Some(json!({}))).await;
    if !text.is_empty() {
        b.type_into(css, text).await;
    }
}

/// Runs an asynchronous script in the page (the last argument is its callback).
async fn run_async(b: &Driver, script: &str) -> Value {
    b.call("POST", "/execute/async", Some(json!({ "script": script, "args": [] }))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_and_a_publisher_work_the_content_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("c.sqlite").display())).await.unwrap();
    let hash = password::hash(PASSWORD).unwrap();
    store.create_account("red.acteur", Role::Editor, &hash, Utc::now()).await.unwrap().unwrap();
    store.create_account("pub.lieur", Role::Publisher, &hash, Utc::now()).await.unwrap().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shipped = ContentSnapshot::from_dirs(&repo.join("knowledge"), &repo.join("prompts/prompts.toml")).unwrap();
    let v1 = store.create_content_version(&shipped, "import", "contenu du dépôt", &[], Utc::now()).await.unwrap();
    store.publish_content_version(v1, "import", Utc::now()).await.unwrap();
    let t0 = Utc::now() - Duration::hours(3);
    let mut events = Vec::new();
    for (i, text) in ["comment obtenir la carte famille nombreuse", "Comment obtenir la carte de famille nombreuse ?", "mon voisin fait trop de bruit la nuit"]
        .iter()
        .enumerate()
    {
        let call = format!("call-{i}");
        events.push(Event::new(&call, t0, EventKind::Started { flow: Flow::Choix2, caller: Caller::Withheld }));
        events.push(Event::new(&call, t0 + Duration::seconds(8), EventKind::Question { transcript: text.to_string(), intent: "@none".into(), score: 0.4 }));
    }
    store.write_batch(&events, &[]).await.unwrap();

    let served = common::Served::start(common::state(store.clone())).await;
    let base = served.base.clone();
    let shots = common::screenshot_dir("console-editor");
    let Some(b) = Driver::start(&dir.path().join("chromium-profile")).await else { return };

    // The editor: topics, one topic, an invalid edit, the fix.
    b.login(&base, "red.acteur", PASSWORD).await;
    let page = b.source().await;
    assert!(page.contains("href=\"/contenu\"") && page.contains("href=\"/contenu/questions\""), "the editor's links on the home page");
    b.screenshot(&shots.join("00-accueil.png")).await;
    b.go(&format!("{base}/contenu")).await;
    let page = b.wait_text("Allocation aux adultes handicapés").await;
    assert!(page.contains("Réponses jouées") && page.contains("Écoute moyenne"));
    b.screenshot(&shots.join("01-sujets.png")).await;
    b.click("a[href='/contenu/sujet/aah']").await;
    assert!(b.wait_url("/contenu/sujet/aah").await);
    b.screenshot(&shots.join("02-sujet.png")).await;

    set_field(&b, "#answer", "").await;
    b.click("form.editor button[type=submit]").await;
    let page = b.wait_text("answer is empty").await;
    assert!(page.contains("answer is empty") && page.contains("ligne "), "{page}");
    b.screenshot(&shots.join("03-sujet-erreur.png")).await;

    set_field(&b, "#answer", NEW_ANSWER).await;
    b.click("form.editor button[type=submit]").await;
    let page = b.wait_text("aucun problème dans ce fichier").await;
    assert!(page.contains("aucun problème dans ce fichier") && page.contains("Enregistré dans le brouillon"), "{page}");
    assert!(page.contains("caf point f r") || page.contains("caf point èf èr"), "the spoken text is shown");
    b.screenshot(&shots.join("04-sujet-corrige.png")).await;
    let draft = store.content_draft().await.unwrap().expect("draft");

    // While typing, the page's script shows the checker's verdict without saving.
    set_field(&b, "#reviewed", "2026-13-45").await;
    b.wait_text("problème(s) :").await;
    let panel = b.call("POST", "/execute/sync", Some(json!({ "script": "return document.getElementById('verification').innerText;", "args": [] }))).await;
    let panel = panel.as_str().unwrap_or_default().to_string();
    assert!(panel.contains("ligne ") && panel.contains("2026-13-45"), "{panel}");
    b.screenshot(&shots.join("04b-verification-en-direct.png")).await;
    assert_eq!(store.content_draft().await.unwrap().expect("draft").snapshot, draft.snapshot, "nothing saved while typing");
    b.go(&format!("{base}/contenu/sujet/aah")).await;
    b.wait_text("aucun problème dans ce fichier").await;
    assert!(draft.snapshot.files["knowledge/aah.toml"].contains("depuis octobre 2023.\nPensez"));

    // The audio element loads the answer as said by the voice; the file is a WAV whose
    // length fits the text's estimated duration.
    let meta = run_async(
        &b,
        "const done = arguments[arguments.length - 1]; const a = document.getElementById('ecoute'); a.preload = 'auto'; \
         a.addEventListener('loadedmetadata', () => done({ duration: a.duration }), { once: true }); \
         a.addEventListener('error', () => done({ error: String(a.error && a.error.code) }), { once: true }); a.load();",
    )
    .await;
    let heard = meta["duration"].as_f64().unwrap_or_else(|| panic!("audio did not load: {meta}"));
    let wav = run_async(
        &b,
        "const done = arguments[arguments.length - 1]; fetch(document.getElementById('ecoute').getAttribute('src')).then(r => r.arrayBuffer().then(buf => { \
         const v = new DataView(buf); done({ status: r.status, type: r.headers.get('content-type'), len: buf.byteLength, \
         riff: String.fromCharCode(v.getUint8(0), v.getUint8(1), v.getUint8(2), v.getUint8(3)), rate: v.getUint32(24, true) }); })) \
         .catch(e => done({ error: String(e) }));",
    )
    .await;
    assert_eq!((wav["status"].as_u64(), wav["type"].as_str(), wav["riff"].as_str()), (Some(200), Some("audio/wav"), Some("RIFF")), "{wav}");
    let rate = wav["rate"].as_f64().unwrap();
    let seconds = (wav["len"].as_f64().unwrap() - 44.0) / 2.0 / rate;
    let expected = nlu::knowledge::spoken_seconds(NEW_ANSWER);
    assert!(seconds > expected * 0.5 && seconds < expected * 2.0, "{seconds:.1} s of audio for an estimated {expected:.1} s");
    assert!((heard - seconds).abs() < 0.5, "the element reads {heard:.1} s, the file holds {seconds:.1} s");

    // Try a question against the draft and the published version.
    b.go(&format!("{base}/contenu/essayer")).await;
    b.type_into("#q", "comment demander l'allocation adulte handicapé").await;
    b.click("main form button[type=submit]").await;
    let page = b.wait_text("Sujet reconnu").await;
    assert!(page.contains("Brouillon") && page.contains("Version publiée") && page.contains("<code>aah</code>"), "{page}");
    b.screenshot(&shots.join("05-essayer.png")).await;

    // The prompts' form and the new topic form.
    b.go(&format!("{base}/contenu/messages")).await;
    b.wait_text("ask_question").await;
    b.screenshot(&shots.join("05b-messages.png")).await;
    b.go(&format!("{base}/contenu/nouveau")).await;
    b.wait_text("Identifiant (minuscules et tirets").await;
    b.screenshot(&shots.join("05c-nouveau-sujet.png")).await;

    // The inbox: the two phrasings of one question make one group.
    b.go(&format!("{base}/contenu/questions")).await;
    let page = b.wait_text("2 fois").await;
    assert!(page.contains("2 fois") && page.contains("mon voisin fait trop de bruit"), "{page}");
    b.screenshot(&shots.join("06-questions.png")).await;
    b.logout().await;

    // The publisher reviews the diff and publishes.
    b.login(&base, "pub.lieur", PASSWORD).await;
    b.go(&format!("{base}/contenu/relecture")).await;
    let page = b.wait_text("Sujet modifié").await;
    assert!(page.contains("Réponse") && page.contains("Pensez à déclarer tout changement de situation"), "{page}");
    b.screenshot(&shots.join("07-relecture.png")).await;
    b.type_into("#note", "AAH : réponse reformulée").await;
    b.click("form[action='/contenu/publier'] button[type=submit]").await;
    let (_, latest) = {
        let mut got = None;
        for _ in 0..150 {
            if let Some(p) = store.published_content().await.unwrap().filter(|(_, v)| v.id != v1) {
                got = Some(p);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        got.expect("a new version published")
    };
    let v2 = latest.id;
    assert!(b.wait_url(&format!("/contenu/version/{v2}")).await);
    assert_eq!(store.content_version(v2).await.unwrap().unwrap().1, draft.snapshot);
    b.screenshot(&shots.join("08-version.png")).await;
    b.go(&format!("{base}/contenu/historique")).await;
    let page = b.wait_text("publiée actuellement").await;
    assert!(page.contains(&format!("Version {v2}")) && page.contains("AAH : réponse reformulée"));
    b.screenshot(&shots.join("09-historique.png")).await;

    // Rollback to the first version: a new version with its snapshot, published.
    b.go(&format!("{base}/contenu/version/{v1}")).await;
    b.wait_text("Rétablir cette version").await;
    b.click(&format!("form[action='/contenu/version/{v1}/retablir'] button[type=submit]")).await;
    assert!(b.wait_url("/contenu/historique").await);
    let (_, v3) = store.published_content().await.unwrap().unwrap();
    assert!(v3.id > v2);
    assert_eq!(store.content_version(v3.id).await.unwrap().unwrap().1, shipped);
    let page = b.wait_text(&format!("Retour à la version {v1}")).await;
    assert!(page.contains(&format!("Retour à la version {v1}")));
    b.screenshot(&shots.join("10-retabli.png")).await;
    b.logout().await;
    b.stop().await;
    served.stop().await;
}
