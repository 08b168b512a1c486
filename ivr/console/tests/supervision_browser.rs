//! The supervisors' pages in a real browser (headless Chromium over WebDriver, started and
//! stopped by this test): a supervisor logs in, the live view follows an instance's
//! heartbeat rows by itself (our own script, under the strict CSP): a call appears, then
//! disappears, without a reload; the crisis message is switched on; an exceptional closure
//! is added and removed. Screenshots under `target/<profile>/tmp/console-supervision/`.
//! Skipped when chromedriver is not installed, except under CI.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use common::{Driver, PASSWORD};
use ivr_accounting::{InstanceBeat, LiveCall, Role, Store};
use ivr_console::password;
use serde_json::json;

/// An instance of our own: writes its heartbeat row every 300 ms with the calls in `calls`.
fn fake_instance(store: Store, calls: Arc<Mutex<Vec<LiveCall>>>) -> tokio::task::JoinHandle<()> {
    let started = Utc::now();
    tokio::spawn(async move {
        loop {
            let beat = InstanceBeat {
                name: "ivr-test:5060".into(),
                started,
                updated: Utc::now(),
                sip_up: true,
                calls: calls.lock().unwrap().clone(),
                asr_queue: 0,
                asr_p50_ms: Some(380),
                asr_p95_ms: Some(920),
                content: None,
            };
            store.heartbeat(&beat).await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
}

/// Waits (bounded, 30 s) until the page no longer holds `text`.
async fn wait_gone(browser: &Driver, text: &str) -> bool {
    for _ in 0..300 {
        if !browser.source().await.contains(text) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_follows_the_calls_and_sets_messages_and_closures_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("c.sqlite").display())).await.unwrap();
    store.create_account("sup.ervision", Role::Supervisor, &password::hash(PASSWORD).unwrap(), Utc::now()).await.unwrap().unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let instance = fake_instance(store.clone(), calls.clone());
    let served = common::Served::start(common::state(store.clone())).await;
    let base = served.base.clone();
    let shots = common::screenshot_dir("console-supervision");
    let Some(browser) = Driver::start(&dir.path().join("chromium-profile")).await else {
        instance.abort();
        return;
    };

    browser.login(&base, "sup.ervision", PASSWORD).await;
    let home = browser.source().await;
    assert!(home.contains("href=\"/supervision\""), "the home page links the supervision");
    browser.go(&format!("{base}/supervision")).await;
    let page = browser.wait_text("ivr-test:5060").await;
    assert!(page.contains("Aucun appel en cours"), "{page}");
    browser.screenshot(&shots.join("01-direct-vide.png")).await;

    // A call starts on the instance: the open page shows it without a reload.
    calls.lock().unwrap().push(LiveCall {
        reference: "5be1c0de".into(),
        flow: 2,
        state: "answering".into(),
        topic: Some("prime-activite".into()),
        started: Utc::now() - chrono::Duration::seconds(42),
    });
    let page = browser.wait_text("5be1c0de").await;
    assert!(page.contains("5be1c0de") && page.contains("prime-activite") && page.contains("réponse"), "the call appeared: {page}");
    assert!(page.contains("data-refreshed"), "updated by the script, not a reload");
    assert!(browser.url().await.ends_with("/supervision"));
    browser.screenshot(&shots.join("02-direct-appel.png")).await;
    calls.lock().unwrap().clear();
    assert!(wait_gone(&browser, "5be1c0de").await, "the ended call left the page");

    // The crisis message, for every instance.
    browser.go(&format!("{base}/supervision/interrupteurs")).await;
    browser.click("#bascule-crisis").await;
    let page = browser.wait_text("Dernier changement").await;
    assert!(page.contains("sup.ervision"), "{page}");
    assert!(store.switch_state().await.unwrap().flags.crisis);
    browser.screenshot(&shots.join("03-messages.png")).await;
    browser.go(&format!("{base}/supervision")).await;
    let page = browser.wait_text("Messages actifs").await;
    assert!(page.contains("Messages actifs : crise"), "{page}");

    // An exceptional closure next month (the date set as a browser would, ISO value).
    let day = ivr_accounting::paris_day(Utc::now()) + chrono::Duration::days(30);
    browser.go(&format!("{base}/supervision/calendrier")).await;
    browser.call("POST", "/execute/sync", Some(json!({"script": "document.getElementById('first').value = arguments[0];", "args": [day.to_string()]}))).await;
    browser.type_into("#label", "Inventaire annuel").await;
    browser.click("main form.filters button").await;
    let page = browser.wait_text("Inventaire annuel</td>").await;
    assert!(page.contains("Inventaire annuel</td>"), "{page}");
    assert_eq!(store.closures(None).await.unwrap().len(), 1);
    browser.screenshot(&shots.join("04-calendrier.png")).await;
    browser.click("main table form button").await;
    assert!(wait_gone(&browser, "Inventaire annuel</td>").await, "the closure was removed");
    assert!(store.closures(None).await.unwrap().is_empty());

    browser.stop().await;
    instance.abort();
    served.stop().await;
    let actions: Vec<String> = store.audit_entries(100).await.unwrap().into_iter().rev().map(|e| e.action).collect();
    assert_eq!(actions, vec!["login", "switch-set", "closure-add", "closure-remove"]);
    eprintln!("screenshots in {}", shots.display());
}
