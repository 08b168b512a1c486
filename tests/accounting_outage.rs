//! A PostgreSQL outage during calls loses nothing: `ivr serve` keeps answering while the
//! database is stopped, keeps the records in its local spool, replays them when the
//! database is back, logs the outage once (not per call), and `ivr report export` then
//! lists every call made, the day's chain intact.

mod conversation_common;
#[path = "support/postgres.rs"]
mod postgres;

use std::process::Command;
use std::time::Duration;

use conversation_common::{call, scenario, Server, Step};
use ivr_accounting::chrono::Utc;

/// One closed-hours call (short, no recognition): the caller hears the closed message a
/// moment and hangs up.
fn one_call(server: &Server, id: &str) {
    let (ok, out) = call(server, id, &scenario("0677700000", 3, &[Step::Pause(1200)]), Duration::from_secs(30));
    assert!(ok, "{id}: the call must be answered during the outage too: {out}\n{}", server.call_log(id));
}

#[test]
fn calls_during_a_database_outage_are_all_recorded() {
    let Some(pg) = postgres::OwnPostgres::start() else { return };
    let url = pg.url();
    let mut server = Server::start_on("force-closed", &["--asr-workers", "1", "--asr-threads", "1"], "info,tantivy=warn", Some(&url));
    let pid = std::process::id();
    let mut made = Vec::new();
    let mut step = |phase: &str, n: usize, server: &Server| {
        for i in 0..n {
            let id = format!("{phase}{i}-{pid}");
            one_call(server, &id);
            made.push(id);
        }
    };
    step("before", 2, &server);
    pg.ctl_stop();
    let stopped = std::time::Instant::now();
    step("during", 4, &server);
    // The database stays away a while longer, calls or not.
    std::thread::sleep(Duration::from_secs(12).saturating_sub(stopped.elapsed()));
    pg.ctl_start();
    step("after", 2, &server);
    // Replayed at the writer's next probe (a couple of seconds at most).
    let end = std::time::Instant::now() + Duration::from_secs(30);
    while !server.log_text().contains("accounting database back") && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
    }
    server.stop();
    let log = server.log_text();
    assert!(log.contains("accounting database back"), "the spool was replayed: {log}");
    assert_eq!(log.matches("accounting database unavailable").count(), 1, "the outage is logged once: {log}");

    let today = ivr_accounting::paris_day(Utc::now()).to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["report", "export", "--from", &today, "--to", &today, "--format", "csv", "--db", &url])
        .output()
        .expect("ivr report export");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8_lossy(&out.stdout);
    for id in &made {
        assert_eq!(csv.lines().filter(|l| l.contains(id.as_str())).count(), 1, "{id} exported once: {csv}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ivr")).args(["report", "verify", "--day", &today, "--db", &url]).output().expect("ivr report verify");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains(&format!("{} record(s), chain intact", made.len())), "{text}");
}
