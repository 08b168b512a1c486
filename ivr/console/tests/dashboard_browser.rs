//! A real browser on the dashboards and the call review: headless Chromium (WebDriver, the
//! shared harness of `common`) logs in as an analyst, opens the dashboard of a fortnight of
//! scripted calls (screenshots), downloads the CSV export through the page's own form and
//! gets the bytes `ivr report` writes; then a supervisor opens the day's calls and one
//! call's review page (screenshots). Screenshots go to
//! `target/<profile>/tmp/console-dashboards/`. Skipped when chromedriver is not installed,
//! except under CI (`CI=true`).

mod common;
mod scripted_day;

use chrono::{NaiveDate, Utc};
use common::{Driver, PASSWORD};
use ivr_accounting::report::{self, Format, Period};
use ivr_accounting::review::call_ref;
use ivr_accounting::{Role, Sc32Rule, Store};
use ivr_console::password;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_reads_and_exports_the_dashboard_and_a_supervisor_reviews_a_call_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("c.sqlite").display())).await.unwrap();
    let hash = password::hash(PASSWORD).unwrap();
    store.create_account("ana.lyste", Role::Analyst, &hash, Utc::now()).await.unwrap().unwrap();
    store.create_account("sup.ervision", Role::Supervisor, &hash, Utc::now()).await.unwrap().unwrap();
    // A fortnight: each day's script, every day closed but the last.
    let rule = Sc32Rule::default();
    let first = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let last = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
    for d in first.iter_days().take_while(|d| *d <= last) {
        scripted_day::write(&store, &rule, d).await;
    }
    let served = common::Served::start(common::state(store.clone())).await;
    let base = served.base.clone();
    let shots = common::screenshot_dir("console-dashboards");
    let profile = dir.path().join("chromium-profile");
    let Some(browser) = Driver::start(&profile).await else { return };

    browser.login(&base, "ana.lyste", PASSWORD).await;
    let page = browser.source().await;
    assert!(page.contains("href=\"/tableaux\"") && !page.contains("href=\"/appels\""), "the analyst's navigation: {page}");
    browser.go(&format!("{base}/tableaux?du=2026-03-01&au=2026-03-15&par=jour")).await;
    let page = browser.wait_text("Heures productives SC3.2").await;
    assert!(page.contains("<svg") && page.contains("provisoire") && page.contains("clos"), "{page}");
    browser.screenshot(&shots.join("01-tableaux.png")).await;
    browser.call("POST", "/execute/sync", Some(json!({"script": "document.getElementById('par-periode').scrollIntoView(); return true;", "args": []}))).await;
    browser.screenshot(&shots.join("01b-tableaux-graphiques.png")).await;
    browser
        .call("POST", "/execute/sync", Some(json!({"script": "document.getElementById('transferts-motifs').scrollIntoView(); return true;", "args": []})))
        .await;
    browser.screenshot(&shots.join("02-tableaux-motifs-themes.png")).await;
    // The form is the one on the page: change the period through it, per week.
    browser.go(&format!("{base}/tableaux")).await;
    browser.call("POST", "/execute/sync", Some(json!({"script": "document.getElementById('du').value='2026-03-01'; document.getElementById('au').value='2026-03-15'; document.getElementById('par').value='semaine'; return true;", "args": []}))).await;
    browser.click("form.filters button[type=submit]").await;
    assert!(browser.wait_url("par=semaine").await, "the period form submits");
    let page = browser.wait_text("semaine 11 de 2026").await;
    assert!(page.contains("semaine 11 de 2026"), "{page}");
    browser.screenshot(&shots.join("03-tableaux-semaines.png")).await;

    // The CSV export, posted by the page's own form (its CSRF token, its period).
    browser.go(&format!("{base}/tableaux?du=2026-03-01&au=2026-03-15&par=jour")).await;
    browser.wait_text("Exports de la période").await;
    let fetched = browser
        .call(
            "POST",
            "/execute/async",
            Some(json!({"script": "const done = arguments[arguments.length - 1]; const f = document.querySelector('form.export'); \
                fetch(f.action, {method: 'POST', body: new URLSearchParams(new FormData(f)), credentials: 'same-origin'}) \
                .then(async r => done([r.status, r.headers.get('content-disposition'), await r.text()])).catch(e => done(['error', String(e)]));", "args": []})),
        )
        .await;
    assert_eq!(fetched[0], 200, "{fetched}");
    assert_eq!(fetched[1], "attachment; filename=\"sc32-chiffres-2026-03-01_2026-03-15-jour.csv\"");
    let from = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let expected = report::render(&report::build(&store, &rule, from, last, Period::Day, None).await.unwrap(), Format::Csv);
    assert_eq!(fetched[2].as_str().unwrap(), expected, "the export is the CSV of ivr report");
    let audit = store.audit_entries(100).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "report-export" && e.actor == "ana.lyste" && e.target == "2026-03-01..2026-03-15"), "export audited");
    browser.logout().await;

    // A supervisor reviews the last day's calls and the call that heard its answer.
    browser.login(&base, "sup.ervision", PASSWORD).await;
    browser.go(&format!("{base}/appels?jour=2026-03-15")).await;
    browser.wait_text("appel(s) le 15/03/2026").await;
    browser.screenshot(&shots.join("04-appels-du-jour.png")).await;
    let reference = call_ref(&scripted_day::call_id(last, "barge"), last);
    browser.click(&format!("a[href=\"/appels/{reference}\"]")).await;
    assert!(browser.wait_url(&format!("/appels/{reference}")).await, "the call's page");
    let page = browser.wait_text("Déroulé de l'appel").await;
    assert!(page.contains("Non productif") && page.contains("interrompu par l'appelant"), "{page}");
    browser.screenshot(&shots.join("05-appel-interrompu.png")).await;
    browser.call("POST", "/execute/sync", Some(json!({"script": "document.getElementById('deroule').scrollIntoView(); return true;", "args": []}))).await;
    browser.screenshot(&shots.join("05b-appel-interrompu-deroule.png")).await;
    let reference = call_ref(&scripted_day::call_id(last, "listen"), last);
    browser.go(&format!("{base}/appels/{reference}")).await;
    let page = browser.wait_text("Déroulé de l'appel").await;
    assert!(page.contains(scripted_day::RSA_QUESTION) && page.contains("Productif"), "{page}");
    browser.screenshot(&shots.join("06-appel-productif.png")).await;
    let audit = store.audit_entries(100).await.unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "call-review-open" && e.actor == "sup.ervision").count(), 2);

    browser.stop().await;
    served.stop().await;
}
