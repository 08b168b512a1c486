//! A real browser against the console: headless Chromium driven over WebDriver (Debian
//! `chromium` + `chromium-driver`, started and stopped by this test) logs in as an agent,
//! opens the requests page and a request, marks it handled, logs out; an admin reads the
//! audit log; screenshots are saved under
//! `target/<profile>/tmp/console-browser/`. Skipped when chromedriver is not installed,
//! except under CI (`CI=true`), where it must run. Everything is on 127.0.0.1.

mod common;

use chrono::Utc;
use common::{Driver, PASSWORD};
use ivr_accounting::{Flow, NewRequest, RequestKind, RequestStatus, Role, Store};
use ivr_console::password;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_logs_in_and_works_the_requests_page_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("c.sqlite").display())).await.unwrap();
    store.create_account("agent.dupont", Role::Agent, &password::hash(PASSWORD).unwrap(), Utc::now()).await.unwrap().unwrap();
    store.create_account("admin", Role::Admin, &password::hash(PASSWORD).unwrap(), Utc::now()).await.unwrap().unwrap();
    let mut ids = Vec::new();
    for (kind, keyed, said) in [
        (RequestKind::Rappel, "0612345678", "Paul Durand, je voudrais être rappelé pour l'aide au logement"),
        (RequestKind::AttestationNonPaiement, "", "Claire Martin, 8 rue des Tilleuls, 44000 Nantes"),
    ] {
        ids.push(
            store
                .insert_request(&NewRequest {
                    kind,
                    call_id: format!("call-{keyed}@trunk"),
                    flow: Flow::Choix2,
                    at: Utc::now(),
                    topic: Some("@none".into()),
                    keyed: keyed.into(),
                    transcript: said.into(),
                })
                .await
                .unwrap(),
        );
    }
    let served = common::Served::start(common::state(store.clone())).await;
    let base = served.base.clone();
    let shots = common::screenshot_dir("console-browser");
    let profile = dir.path().join("chromium-profile");
    let Some(browser) = Driver::start(&profile).await else { return };

    browser.go(&format!("{base}/demandes")).await;
    assert!(browser.url().await.ends_with("/connexion"), "sent to the login page");
    browser.screenshot(&shots.join("01-connexion.png")).await;
    browser.type_into("#name", "agent.dupont").await;
    browser.type_into("#password", "wrong-Password-1").await;
    browser.click("button[type=submit]").await;
    let page = browser.wait_text("Identifiant ou mot de passe incorrect").await;
    assert!(page.contains("Identifiant ou mot de passe incorrect"), "{page}");
    browser.type_into("#name", "agent.dupont").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("button[type=submit]").await;
    assert!(browser.wait_url("/").await, "home after login");
    browser.go(&format!("{base}/demandes")).await;
    let page = browser.source().await;
    for id in &ids {
        assert!(page.contains(&format!("/demandes/{id}")), "{page}");
    }
    assert!(!page.contains("Paul Durand"), "no personal data in the list");
    browser.screenshot(&shots.join("02-demandes.png")).await;

    browser.click(&format!("a[href='/demandes/{}']", ids[0])).await;
    let page = browser.wait_text("Paul Durand").await;
    assert!(page.contains("0612345678") && page.contains("Paul Durand"));
    browser.screenshot(&shots.join("03-demande.png")).await;
    browser.click("main form button[type=submit]").await;
    assert!(browser.wait_url("/demandes").await);
    assert_eq!(store.request(ids[0]).await.unwrap().unwrap().status, RequestStatus::Handled);
    assert_eq!(store.request(ids[0]).await.unwrap().unwrap().handled_by.as_deref(), Some("agent.dupont"));
    let page = browser.source().await;
    assert!(!page.contains(&format!("/demandes/{}\"", ids[0])) && page.contains(&format!("/demandes/{}", ids[1])));
    browser.screenshot(&shots.join("04-demandes-apres.png")).await;

    // Logout (the header's form), then the admin reads the audit log.
    browser.click("header form button[type=submit]").await;
    assert!(browser.wait_url("/connexion").await);
    browser.type_into("#name", "admin").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("button[type=submit]").await;
    assert!(browser.wait_url("/").await, "admin home");
    browser.go(&format!("{base}/journal")).await;
    let page = browser.source().await;
    assert!(page.contains("Chaîne intègre") && page.contains("request-handled"), "{page}");
    browser.screenshot(&shots.join("05-journal.png")).await;

    browser.stop().await;
    served.stop().await;
    let actions: Vec<String> = store.audit_entries(100).await.unwrap().into_iter().rev().map(|e| e.action).collect();
    assert_eq!(actions, vec!["login-failed", "login", "request-open", "request-handled", "logout", "login"]);
    eprintln!("screenshots in {}", shots.display());
}
