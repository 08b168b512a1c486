//! Runtime switches and shutdown end to end: `ivr serve --db-url none --switches FILE` reads
//! the file at every call start (with a database the switches live there: see
//! tests/console_live.rs), `ivr switch set` (the real binary) changes what the next caller hears,
//! a broken file keeps the last good state; SIGINT ends the calls in progress with a BYE and
//! leaves every ended call's record in the SQLite database.

mod conversation_common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use conversation_common::{call, clip_ms, scenario, Server, Step};

const IVR: &str = env!("CARGO_BIN_EXE_ivr");

fn switch(args: &[&str], file: &Path) -> (bool, String) {
    // The file is the switches of a service without a database (with one, they are in it).
    let out =
        Command::new(IVR).arg("switch").args(args).args(["--db-url", "none", "--file"]).arg(file).env("RUST_BACKTRACE", "0").output().expect("run ivr switch");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// One call that stays `ms` on the line, then hangs up; returns its log lines.
fn call_for(server: &Server, id: &str, ms: u32) -> String {
    let (ok, out) = call(server, id, &scenario("0688888888", 2, &[Step::Pause(ms)]), Duration::from_secs(u64::from(ms) / 1000 + 20));
    assert!(ok, "{id}: {out}\n{}", server.call_log(id));
    assert!(server.wait_call_log(id, "call finished", Duration::from_secs(5)), "{id} not finished: {}", server.call_log(id));
    server.call_log(id)
}

#[test]
fn switches_change_what_the_next_caller_hears() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("switches.toml");
    let file_arg = file.to_str().expect("utf-8 temp path");
    let server = Server::start_on("always-open", &["--asr-workers", "1", "--asr-threads", "1", "--switches", file_arg], "info,tantivy=warn", Some("none"));
    let pid = std::process::id();
    // Long enough for the greeting and the start of the message that follows it.
    let after_greeting = clip_ms("prompt/greeting_choix2") as u32 + 2500;

    // No file: the normal greeting, then the question prompt, no crisis message.
    let log = call_for(&server, &format!("sw-plain-{pid}"), after_greeting);
    assert!(log.contains("play key=prompt/greeting_choix2"), "{log}");
    assert!(log.contains("play key=prompt/ask_question"), "{log}");
    assert!(!log.contains("play key=prompt/crisis") && !log.contains("play key=prompt/closed"), "{log}");

    let (ok, out) = switch(&["set", "crisis", "on"], &file);
    assert!(ok && out.contains("crisis: on"), "{out}");
    let log = call_for(&server, &format!("sw-crisis-{pid}"), after_greeting);
    let greeting = log.find("play key=prompt/greeting_choix2");
    let crisis = log.find("play key=prompt/crisis");
    assert!(greeting.is_some() && crisis.is_some() && greeting < crisis, "greeting then the crisis message: {log}");
    let text = server.log_text();
    assert!(text.contains("switches changed: saturation=off crisis=off closed=off → saturation=off crisis=on closed=off"), "{text}");

    let (ok, out) = switch(&["set", "closed", "on"], &file);
    assert!(ok && out.contains("closed: on") && out.contains("crisis: on"), "the other switch is kept: {out}");
    let log = call_for(&server, &format!("sw-closed-{pid}"), 2500);
    assert!(log.contains("play key=prompt/closed"), "{log}");
    assert!(!log.contains("play key=prompt/greeting"), "no greeting when closed: {log}");

    // A half-saved edit: the last good state (closed) stays, and the log names the file.
    std::fs::write(&file, "closed = tru").expect("write broken switches");
    let (ok, out) = switch(&["show"], &file);
    assert!(!ok && out.contains("switches.toml"), "show reports the broken file: {out}");
    let (ok, out) = switch(&["set", "crisis", "maybe"], &file);
    assert!(!ok && out.contains("possible values"), "{out}");
    let id = format!("sw-broken-{pid}");
    let log = call_for(&server, &id, 2500);
    assert!(log.contains("play key=prompt/closed") && !log.contains("play key=prompt/greeting"), "last good state kept: {log}");
    let warned = server.log_text().lines().any(|l| l.contains("WARN") && l.contains(&id) && l.contains("last good state kept") && l.contains(file_arg));
    assert!(warned, "a warning naming {file_arg}: {}", server.log_text());
}

#[test]
fn sigint_ends_calls_and_keeps_every_record() {
    let mut server = Server::start("always-open", &["--asr-workers", "1", "--asr-threads", "1"]);
    let pid = std::process::id();
    let short = format!("stop-ended-{pid}");
    let long = format!("stop-live-{pid}");
    std::thread::scope(|s| {
        // In progress at the signal: expects the bot's BYE (its own script would take far longer).
        let live = s.spawn(|| call(&server, &long, &scenario("0699999991", 2, &[Step::Pause(500), Step::ExpectBye]), Duration::from_secs(40)));
        // Ends (caller's BYE answered) a few milliseconds before the signal: its record is
        // still in the recorder's batch window then.
        let (ok, out) = call(&server, &short, &scenario("0699999992", 3, &[Step::Pause(2000)]), Duration::from_secs(20));
        assert!(ok, "{out}\n{}", server.call_log(&short));
        let sent = Command::new("kill").args(["-INT", &server.pid().to_string()]).status();
        assert!(sent.is_ok_and(|st| st.success()), "kill -INT {}", server.pid());
        let (ok, out) = live.join().expect("live caller");
        assert!(ok, "the call in progress got the bot's BYE at shutdown: {out}\n{}", server.call_log(&long));
    });
    // Waits for the exit (a second SIGINT to an exited process changes nothing).
    server.stop();
    let log = server.log_text();
    assert!(log.contains("shutting down") && log.contains("accounting flushed") && log.contains("ivr serve stopped"), "clean shutdown: {log}");
    let day = ivr_accounting::paris_day(ivr_accounting::chrono::Utc::now()).to_string();
    let out = Command::new(IVR)
        .args(["report", "export", "--from", &day, "--to", &day, "--format", "csv", "--db"])
        .arg(format!("sqlite://{}", server.db.display()))
        .env("IVR_LOG", "warn")
        .output()
        .expect("run ivr report export");
    let csv = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{csv}{}", String::from_utf8_lossy(&out.stderr));
    for id in [&short, &long] {
        assert!(csv.contains(&format!("{id}-")), "{id} not exported:\n{csv}\n{log}");
    }
}
