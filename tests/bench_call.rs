//! `ivr bench call` runs end to end: it starts its own `ivr serve`, its callers ask
//! rendered questions over SIP/RTP on 127.0.0.1, and it prints the latency table. Speed is
//! not asserted here (benchmarks print figures; tests check behaviour): this checks that
//! the benchmark measures real answers, so its figures can be trusted.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn bench_call_measures_answers_heard_by_a_caller() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["bench", "call", "--callers", "1", "--questions", "2", "--no-baseline"])
        .current_dir(&root)
        .env("IVR_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ivr bench call");
    // Bounded: two calls of a few seconds each, plus start-up, on a loaded 2-core machine.
    let limit = Instant::now() + Duration::from_secs(240);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < limit => std::thread::sleep(Duration::from_millis(200)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("ivr bench call did not finish within 240 s");
            }
        }
    }
    let out = child.wait_with_output().expect("bench output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed: {stdout}\n{stderr}");
    // The row of the 1-caller level: callers, calls, answered, right topic, failed, invalid, p50 ...
    let row = stdout
        .lines()
        .map(str::split_whitespace)
        .map(|w| w.collect::<Vec<_>>())
        .find(|w| w.len() > 7 && w[0] == "1" && w[1] == "2")
        .unwrap_or_else(|| panic!("no 1-caller row with 2 calls in:\n{stdout}"));
    let col = |i: usize, name: &str| -> usize { row[i].parse().unwrap_or_else(|_| panic!("{name} column in {row:?}")) };
    let (answered, failed, invalid) = (col(2, "answered"), col(4, "failed"), col(5, "invalid"));
    assert!(answered >= 1, "no call got an answer:\n{stdout}");
    // Every call is accounted for: an answer, a failure or an invalid sample, none dropped.
    assert!(answered + failed + invalid >= 2, "calls missing from the figures:\n{stdout}");
    // Each failure and invalid sample is reported with its cause.
    let causes = stdout.lines().filter(|l| l.contains(": failed: ") || l.contains(": invalid sample: ")).count();
    assert_eq!(causes, failed + invalid, "every failed or invalid call must say why:\n{stdout}");
    // A failure weighs in the percentiles: with no failure p50 is a number of ms.
    if failed == 0 {
        let p50: f64 = row[6].parse().expect("p50 column");
        assert!(p50 > 0.0, "an answered call must have a measured latency:\n{stdout}");
    } else {
        assert!(stdout.contains("fail"), "{stdout}");
    }
    assert!(stdout.contains("failed = no answer"), "the figures must say what counts as failed:\n{stdout}");
    assert!(stdout.contains("callers held at p95"), "{stdout}");
    assert!(stdout.contains("greeting first packet") || stdout.contains("first packet"), "{stdout}");
    assert!(stdout.contains("barge-in stop p50"), "{stdout}");
}
