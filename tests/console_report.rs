//! The console's dashboard and exports against `ivr report`: a scripted day of calls is
//! written straight to a SQLite store (`Store::write_batch`, as the service's recorder does;
//! the calls are those of `ivr/console/tests/scripted_day`), then the `ivr` binary reports on
//! it and the console, served on 127.0.0.1 over the same database, shows and exports it.
//! The productive hours of the page equal those of `ivr report --format json`, and the
//! console's CSV exports are byte for byte those of `ivr report --format csv` and
//! `ivr report export --format csv`. Run on SQLite and on a PostgreSQL server of the test's own.

#[path = "support/postgres.rs"]
mod postgres;
#[path = "../ivr/console/tests/scripted_day/mod.rs"]
mod scripted_day;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use ivr_accounting::chrono::{NaiveDate, Utc};
use ivr_accounting::review::call_ref;
use ivr_accounting::{Role, Sc32Rule, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// The supervisor's session (call review).
const SUP_TOKEN: &str = "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const CSRF: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

fn ivr(db: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ivr")).arg("report").args(args).arg("--db").arg(db).output().expect("run ivr report");
    assert!(out.status.success(), "ivr report {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 report")
}

/// One HTTP/1.1 exchange with the console (Connection: close), bounded in time: the head and the body.
async fn http(addr: SocketAddr, token: &str, method: &str, path: &str, body: &str) -> (String, String) {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: ivr_session={token}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(req.as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    let out = tokio::time::timeout(Duration::from_secs(60), exchange).await.expect("the console answered in time").expect("HTTP I/O");
    let text = String::from_utf8(out).expect("utf-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    (head.to_string(), body.to_string())
}

fn data_value(page: &str, id: &str) -> f64 {
    let key = format!("id=\"{id}\" data-valeur=\"");
    let at = page.find(&key).unwrap_or_else(|| panic!("no #{id} in {page}"));
    page[at + key.len()..].split('"').next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("#{id} is not a number"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_its_exports_are_those_of_ivr_report_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    same_figures(&format!("sqlite://{}", dir.path().join("ivr.sqlite").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_its_exports_are_those_of_ivr_report_on_postgres() {
    let Some(pg) = postgres::OwnPostgres::start() else { return };
    same_figures(&pg.url()).await;
}

/// Writes the scripted day to `db`, then compares the console's page and exports with the
/// `ivr` binary's report on the same database.
async fn same_figures(db: &str) {
    let store = Store::connect(db).await.expect("store");
    let day = NaiveDate::from_ymd_opt(2026, 5, 4).expect("a day");
    // The day before is written and closed, the day itself stays provisional.
    scripted_day::write(&store, &Sc32Rule::default(), day).await;
    let id = store.create_account("ana.lyste", Role::Analyst, "unused", Utc::now()).await.expect("account").expect("new account");
    store.create_session(id, TOKEN, CSRF, Utc::now()).await.expect("session");
    let id = store.create_account("sup.ervision", Role::Supervisor, "unused", Utc::now()).await.expect("account").expect("new account");
    store.create_session(id, SUP_TOKEN, CSRF, Utc::now()).await.expect("session");

    let d = day.to_string();
    let json: serde_json::Value = serde_json::from_str(&ivr(db, &["--from", &d, "--to", &d, "--format", "json"])).expect("JSON report");
    let hours = json["total"]["productive_hours"].as_f64().expect("productive hours");
    assert!(hours > 0.0, "the RSA caller's call is productive: {json}");
    assert_eq!(json["total"]["calls"], 5, "{json}");
    assert_eq!(json["total"]["final"], false, "{json}");

    let listener = ivr_console::server::bind("127.0.0.1:0".parse().expect("addr"), false).await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let health = ivr_console::Health { version: "test", sip_up: Arc::new(AtomicBool::new(true)), content_version: Default::default() };
    let state = ivr_console::AppState::new(Some(store.clone()), ivr_console::ConsoleConfig::default(), false, health);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ivr_console::server::serve(listener, ivr_console::router(state), None, async move {
        let _ = stopped.await;
    }));

    let (head, page) = http(addr, TOKEN, "GET", &format!("/tableaux?du={d}&au={d}&par=jour"), "").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(data_value(&page, "heures-productives"), hours, "the page's productive hours are ivr report's");
    assert_eq!(data_value(&page, "appels"), 5.0);

    // The figures in CSV and the call-by-call CSV: the console's files are the command's.
    for (format, cli) in
        [("chiffres-csv", vec!["--from", &d, "--to", &d, "--format", "csv"]), ("appels-csv", vec!["export", "--from", &d, "--to", &d, "--format", "csv"])]
    {
        let (head, body) = http(addr, TOKEN, "POST", "/tableaux/export", &format!("csrf={CSRF}&du={d}&au={d}&par=jour&format={format}")).await;
        assert!(head.starts_with("HTTP/1.1 200") && head.to_ascii_lowercase().contains("content-disposition: attachment"), "{head}");
        assert_eq!(body, ivr(db, &cli), "{format}");
    }
    let audit = store.audit_entries(10).await.expect("audit");
    assert_eq!(audit.iter().filter(|e| e.action == "report-export" && e.target == format!("{d}..{d}")).count(), 2);

    // Call review on the same database: recorded calls and the one still in the events table.
    let (head, list) = http(addr, SUP_TOKEN, "GET", &format!("/appels?jour={d}"), "").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    for name in ["listen", "agent", "early1", "early2", "barge", "open"] {
        assert!(list.contains(&call_ref(&scripted_day::call_id(day, name), day)), "{name} listed: {list}");
    }
    for (name, said) in [("listen", scripted_day::RSA_QUESTION), ("open", scripted_day::OPEN_QUESTION)] {
        let (head, page) = http(addr, SUP_TOKEN, "GET", &format!("/appels/{}", call_ref(&scripted_day::call_id(day, name), day)), "").await;
        assert!(head.starts_with("HTTP/1.1 200") && page.contains(said), "{name}: {head}\n{page}");
    }

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    store.close().await;
}
