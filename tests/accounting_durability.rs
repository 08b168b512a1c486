//! kill -9 of a process writing call records loses no acknowledged call, and the day's hash
//! chain still verifies afterwards; `ivr report` reads the survivors. SQLite and PostgreSQL.
//! The writer is `ivr bench events --until-killed`, which prints `committed <id> <day>` once
//! a call's record is durable (the guarantee the service relies on).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const IVR: &str = env!("CARGO_BIN_EXE_ivr");

/// Kills the writer by its own pid if the test fails before doing it.
struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ivr(args: &[&str]) -> (bool, String) {
    let out = Command::new(IVR).args(args).env("IVR_LOG", "warn").output().expect("run ivr");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

fn kill9_loses_nothing(url: &str) {
    let child = Command::new(IVR)
        .args(["bench", "events", "--until-killed", "--db", url])
        .env("IVR_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn writer");
    let mut child = Killed(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.len() < 400 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => acked.push(l),
            Err(e) => panic!("writer stopped acknowledging after {} calls: {e}", acked.len()),
        }
    }
    // SIGKILL in the middle of the stream: calls are in flight in the queue and in a batch.
    child.0.kill().expect("kill -9");
    let _ = child.0.wait();
    // Acks already printed before the kill count too.
    acked.extend(rx.iter());
    let _ = reader.join();

    // id → Paris day of the call (two days if the test straddles midnight).
    let mut by_day: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for l in &acked {
        let w: Vec<&str> = l.split_whitespace().collect();
        assert!(w.len() == 3 && w[0] == "committed", "{l}");
        by_day.entry(w[2].to_string()).or_default().insert(w[1].to_string());
    }
    for (day, ids) in &by_day {
        let day = day.as_str();
        let (ok, out) = ivr(&["report", "verify", "--day", day, "--db", url]);
        assert!(ok, "chain of {day} after kill -9: {out}");
        let (ok, csv) = ivr(&["report", "export", "--from", day, "--to", day, "--format", "csv", "--db", url]);
        assert!(ok, "{csv}");
        let exported: BTreeSet<&str> = csv.lines().skip(1).filter_map(|l| l.split(',').next()).collect();
        let missing: Vec<_> = ids.iter().filter(|i| !exported.contains(i.as_str())).collect();
        assert!(missing.is_empty(), "acknowledged calls lost by kill -9: {missing:?}");
        let (ok, json) = ivr(&["report", "--from", day, "--to", day, "--format", "json", "--db", url]);
        assert!(ok, "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).expect("report json");
        let calls = v["total"]["calls"].as_u64().expect("calls");
        assert!(calls >= ids.len() as u64, "report counts {calls} calls, {} acknowledged", ids.len());
    }
}

#[test]
fn kill9_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    kill9_loses_nothing(&format!("sqlite://{}", dir.path().join("ivr.sqlite").display()));
}

#[test]
fn kill9_postgres() {
    let base = match std::env::var("IVR_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but IVR_TEST_PG_URL is not set (scripts/pg-test-server.sh)");
            eprintln!("IVR_TEST_PG_URL not set: PostgreSQL kill -9 test skipped");
            return;
        }
    };
    let db = format!("t_kill9_{}", std::process::id());
    let st = Command::new("psql").args([base.as_str(), "-q", "-c", &format!("CREATE DATABASE {db}")]).status().expect("psql");
    assert!(st.success(), "create database");
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database");
    kill9_loses_nothing(&format!("{prefix}/{db}"));
}
