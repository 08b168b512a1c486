//! Supervision end to end: two real `ivr serve` instances share one PostgreSQL of the
//! test's own; a supervisor in headless Chromium watches the live view of one of them.
//!
//! - a SIPp call appears on `/supervision` while it lasts (both instances listed) and leaves
//!   it when it ends, without a reload;
//! - the call moves the instance's `/metrics` counters (calls started and ended, SIP 200);
//! - the supervisor turns the crisis message on from the console, and the next call on
//!   *each* instance hears it after the greeting (the switch is the shared row, read every
//!   second by both);
//! - an exceptional closure of today makes the next call hear the closed message.
//!
//! Screenshots under `target/<profile>/tmp/console-supervision/` (`live-*.png`). Skipped
//! without PostgreSQL server binaries or chromedriver, except under CI.

#[path = "../ivr/console/tests/common/mod.rs"]
mod browser;
mod conversation_common;
#[path = "support/postgres.rs"]
mod postgres;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use browser::{Driver, PASSWORD};
use conversation_common::{call, clip_ms, scenario, Server, Step};
use ivr_accounting::chrono::Utc;
use ivr_accounting::{Role, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A scrape: (metric name, its labels) → value.
type Scrape = BTreeMap<(String, Vec<(String, String)>), f64>;

/// `GET /metrics` from loopback, parsed.
async fn metrics(port: u16) -> Scrape {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    let out = tokio::time::timeout(Duration::from_secs(20), exchange).await.expect("metrics in time").expect("metrics I/O");
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Chunked or not: the exposition lines are what matters; drop chunk-size lines.
    let body: String = body.lines().filter(|l| !(l.len() <= 8 && !l.is_empty() && l.chars().all(|c| c.is_ascii_hexdigit()))).collect::<Vec<_>>().join("\n");
    let (_, samples) = ivr_console::metrics::parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    samples.into_iter().map(|s| ((s.name, s.labels.into_iter().collect()), s.value)).collect()
}

fn value(m: &Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
    m.iter().filter(|((n, labels), _)| n == name && label.is_none_or(|(k, v)| labels.iter().any(|(a, b)| a == k && b == v))).map(|(_, v)| *v).sum()
}

/// Waits (bounded) until the browser's page holds `text`.
async fn wait_page(browser: &Driver, text: &str, within: Duration) -> String {
    let end = Instant::now() + within;
    loop {
        let page = browser.source().await;
        if page.contains(text) || Instant::now() > end {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn wait_log(server: &Server, needle: &str, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if server.log_text().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

async fn start(url: &str, http: u16) -> Server {
    let (url, http) = (url.to_string(), format!("127.0.0.1:{http}"));
    tokio::task::spawn_blocking(move || {
        Server::start_on("always-open", &["--asr-workers", "1", "--asr-threads", "1", "--http", &http], "info,tantivy=warn", Some(&url))
    })
    .await
    .expect("server start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_see_live_calls_and_their_crisis_switch_reaches_every_instance() {
    let Some(pg) = postgres::OwnPostgres::start() else { return };
    let url = pg.url();
    let store = Store::connect(&url).await.expect("connect");
    store.create_account("sup.ervision", Role::Supervisor, &ivr_console::password::hash(PASSWORD).unwrap(), Utc::now()).await.unwrap().unwrap();
    let (http_a, http_b) = (free_tcp_port(), free_tcp_port());
    let a = std::sync::Arc::new(start(&url, http_a).await);
    let b = std::sync::Arc::new(start(&url, http_b).await);
    let base = format!("http://127.0.0.1:{http_a}");
    let shots = browser::screenshot_dir("console-supervision");
    let dir = tempfile::tempdir().unwrap();
    let Some(chrome) = Driver::start(&dir.path().join("chromium-profile")).await else { return };
    let pid = std::process::id();

    let before = metrics(http_a).await;
    chrome.login(&base, "sup.ervision", PASSWORD).await;
    chrome.go(&format!("{base}/supervision")).await;
    let page = wait_page(&chrome, "Instances (2)", Duration::from_secs(30)).await;
    assert!(page.contains("Instances (2)") && page.contains("Aucun appel en cours"), "both instances, no call: {page}");
    assert!(page.contains("<td>version 1</td>"), "the content version each instance runs: {page}");

    // A call of 10 s on instance A: on the page while it lasts, gone after.
    let long = format!("live-{pid}");
    let caller = {
        let (a, long) = (a.clone(), long.clone());
        std::thread::spawn(move || call(&a, &long, &scenario("0611223344", 2, &[Step::Pause(10_000)]), Duration::from_secs(60)))
    };
    let page = wait_page(&chrome, "Appels en cours (1)", Duration::from_secs(40)).await;
    assert!(page.contains("Appels en cours (1)") && page.contains("choix 2"), "the call on the live view: {page}");
    assert!(!page.contains("0611223344") && !page.contains(&long), "no caller number, no Call-ID on the page");
    assert!(chrome.url().await.ends_with("/supervision"), "no navigation: the script refreshed the page");
    chrome.screenshot(&shots.join("live-01-appel.png")).await;
    let (ok, out) = caller.join().expect("caller thread");
    assert!(ok, "{out}\n{}", a.call_log(&long));
    let page = wait_page(&chrome, "Aucun appel en cours", Duration::from_secs(40)).await;
    assert!(page.contains("Aucun appel en cours"), "the ended call left the page: {page}");
    chrome.screenshot(&shots.join("live-02-fini.png")).await;

    // The call moved the counters.
    let end = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let m = metrics(http_a).await;
        if value(&m, "ivr_calls_ended_total", None) > value(&before, "ivr_calls_ended_total", None) || Instant::now() > end {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(value(&after, "ivr_calls_started_total", None) >= value(&before, "ivr_calls_started_total", None) + 1.0, "{after:?}");
    assert!(value(&after, "ivr_calls_ended_total", Some(("outcome", "caller"))) >= 1.0, "{after:?}");
    assert!(value(&after, "ivr_sip_responses_total", Some(("code", "200"))) > value(&before, "ivr_sip_responses_total", Some(("code", "200"))), "{after:?}");
    assert_eq!(value(&after, "ivr_calls_active", None), 0.0);
    assert_eq!(value(&after, "ivr_sip_up", None), 1.0);
    assert_eq!(value(&after, "ivr_content_info", Some(("version", "1"))), 1.0, "{after:?}");
    assert!(value(&after, "ivr_accounting_events_recorded_total", None) >= 3.0, "started, answered, ended: {after:?}");

    // The crisis message from the console reaches both instances.
    chrome.go(&format!("{base}/supervision/interrupteurs")).await;
    chrome.click("#bascule-crisis").await;
    let page = wait_page(&chrome, "Dernier changement", Duration::from_secs(20)).await;
    assert!(page.contains("sup.ervision"), "{page}");
    chrome.screenshot(&shots.join("live-03-crise.png")).await;
    let changed = "switches changed: saturation=off crisis=off closed=off → saturation=off crisis=on closed=off";
    for s in [&a, &b] {
        assert!(wait_log(s, changed, Duration::from_secs(20)), "instance read the switch: {}", s.log_text());
    }
    let after_greeting = clip_ms("prompt/greeting_choix2") as u32 + 2500;
    let callers: Vec<_> = [("a", a.clone()), ("b", b.clone())]
        .into_iter()
        .map(|(name, s)| {
            let id = format!("crisis-{name}-{pid}");
            std::thread::spawn(move || {
                let (ok, out) = call(&s, &id, &scenario("0655443322", 2, &[Step::Pause(after_greeting)]), Duration::from_secs(60));
                assert!(ok, "{id}: {out}\n{}", s.call_log(&id));
                assert!(s.wait_call_log(&id, "call finished", Duration::from_secs(10)), "{id}: {}", s.call_log(&id));
                let log = s.call_log(&id);
                let greeting = log.find("play key=prompt/greeting_choix2");
                let crisis = log.find("play key=prompt/crisis");
                assert!(greeting.is_some() && crisis.is_some() && greeting < crisis, "{id}: greeting then the crisis message: {log}");
            })
        })
        .collect();
    for c in callers {
        c.join().expect("a crisis call failed");
    }
    // An exceptional closure today (as the calendar page adds it): the next call hears the
    // closed message instead of the conversation.
    let today = ivr_accounting::paris_day(Utc::now());
    store.add_closure(today, today, "Fermeture de test", "sup.ervision", Utc::now()).await.unwrap();
    assert!(wait_log(&b, "exceptional closures changed closures=1 today_closed=true", Duration::from_secs(20)), "{}", b.log_text());
    let id = format!("closure-{pid}");
    let (ok, out) = {
        let (b, id) = (b.clone(), id.clone());
        tokio::task::spawn_blocking(move || call(&b, &id, &scenario("0655443322", 2, &[Step::Pause(2500)]), Duration::from_secs(60))).await.unwrap()
    };
    assert!(ok, "{out}\n{}", b.call_log(&id));
    assert!(b.wait_call_log(&id, "call finished", Duration::from_secs(10)));
    let log = b.call_log(&id);
    assert!(log.contains("play key=prompt/closed") && !log.contains("play key=prompt/greeting"), "a closure day is closed: {log}");

    let rows: Vec<String> = store.audit_entries(50).await.unwrap().into_iter().rev().map(|e| format!("{} {} {}", e.actor, e.action, e.detail)).collect();
    assert!(rows.contains(&"sup.ervision switch-set saturation=off crisis=on closed=off".to_string()), "{rows:?}");

    chrome.stop().await;
    store.close().await;
    eprintln!("screenshots in {}", shots.display());
}
