//! Issue 7 durability end to end: `ivr serve` is killed with SIGKILL while SIPp calls are
//! going on. Every call that had ended (caller's BYE answered) a little before the kill is in
//! `ivr report export` read from the SQLite file afterwards, and the day's hash chain verifies.

mod conversation_common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use conversation_common::{call, scenario, Server, Step};

const IVR: &str = env!("CARGO_BIN_EXE_ivr");

/// The service commits a call's record within ~100 ms of its end (50 ms batches, fsync);
/// calls that ended at least this long before the kill must have survived it.
const DURABLE_AFTER: Duration = Duration::from_millis(200);

fn ivr(args: &[&str], db: &str) -> (bool, String) {
    let out = Command::new(IVR).args(args).args(["--db", db]).env("IVR_LOG", "warn").output().expect("run ivr");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn kill_9_during_calls_loses_no_ended_call() {
    let mut server = Server::start("always-open", &["--asr-workers", "1", "--asr-threads", "1"]);
    let pid = std::process::id();
    const CALLS: usize = 8;
    // Staggered hang-ups: the kill comes once four callers have hung up, others still talk.
    let ended: Mutex<Vec<(String, Instant)>> = Mutex::new(Vec::new());
    let done = AtomicUsize::new(0);
    let mut killed_at = None;
    std::thread::scope(|s| {
        for i in 0..CALLS {
            let (server, ended, done) = (&server, &ended, &done);
            s.spawn(move || {
                let id = format!("dur{i}-{pid}");
                let steps = [Step::Pause(1000 + 700 * i as u32)];
                let (ok, _) = call(server, &id, &scenario(&format!("06700000{i:02}"), 2 + (i % 2) as u8, &steps), Duration::from_secs(15));
                if ok {
                    ended.lock().expect("ended list").push((id, Instant::now()));
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        let limit = Instant::now() + Duration::from_secs(30);
        while ended.lock().expect("ended list").len() < 4 && done.load(Ordering::SeqCst) < CALLS && Instant::now() < limit {
            std::thread::sleep(Duration::from_millis(10));
        }
        let status = Command::new("kill").args(["-9", &server.pid().to_string()]).status();
        killed_at = Some(Instant::now());
        assert!(status.is_ok_and(|s| s.success()), "kill -9 {}", server.pid());
    });
    let killed_at = killed_at.expect("kill time");
    let ended = ended.into_inner().expect("ended list");
    let before: Vec<&String> = ended.iter().filter(|(_, t)| *t + DURABLE_AFTER <= killed_at).map(|(id, _)| id).collect();
    assert!(before.len() >= 2, "too few calls ended before the kill: {ended:?}");
    assert!(ended.len() < CALLS, "the kill came after every call had ended: {ended:?}");
    eprintln!("{} call(s) ended before the kill, {} of them >= {DURABLE_AFTER:?} before, {} cut by it", ended.len(), before.len(), CALLS - ended.len());
    server.stop();

    let db = format!("sqlite://{}", server.db.display());
    let day = ivr_accounting::paris_day(ivr_accounting::chrono::Utc::now()).to_string();
    let (ok, csv) = ivr(&["report", "export", "--from", &day, "--to", &day, "--format", "csv"], &db);
    assert!(ok, "export failed: {csv}");
    for id in &before {
        assert!(csv.contains(&format!("{id}-")), "call {id} ended before the kill but is not exported:\n{csv}\n{}", server.log_text());
    }
    let (ok, out) = ivr(&["report", "verify", "--day", &day], &db);
    assert!(ok && out.contains("chain intact"), "verify after the crash: {out}");
}
