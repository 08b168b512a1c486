//! Issue 7 end to end: real SIP calls through `ivr serve` are counted by `ivr report` from
//! the SQLite store the service wrote (hang-up during the greeting twice from one number,
//! a keypad transfer to an agent).

mod conversation_common;

use std::process::Command;
use std::time::Duration;

use conversation_common::{call, scenario, Server, Step};

/// The first JSON object (depth-first) that has a `calls` field: the day's figures.
fn figures(v: &serde_json::Value) -> Option<&serde_json::Value> {
    match v {
        serde_json::Value::Object(m) if m.contains_key("calls") && m.contains_key("transferred") => Some(v),
        serde_json::Value::Object(m) => m.values().find_map(figures),
        serde_json::Value::Array(a) => a.iter().find_map(figures),
        _ => None,
    }
}

#[test]
fn report_counts_the_calls_served() {
    let mut server = Server::start("always-open", &["--asr-workers", "1", "--asr-threads", "1"]);
    let pid = std::process::id();
    let calls: [(&str, &str, Vec<Step>); 3] = [
        ("early1", "0655555555", vec![Step::Pause(2000)]),
        ("early2", "0655555555", vec![Step::Pause(1500)]),
        ("agent", "0666666666", vec![Step::Pause(800), Step::Key('0'), Step::ExpectRefer { header: "X-Ivr-Reason", regexp: "keypad0".into() }]),
    ];
    for (name, from, steps) in &calls {
        let id = format!("rep-{name}-{pid}");
        let (ok, out) = call(&server, &id, &scenario(from, 2, steps), Duration::from_secs(30));
        assert!(ok, "{name}: {out}\n{}", server.call_log(&id));
        assert!(server.wait_call_log(&id, "call record committed", Duration::from_secs(5)), "{name} not committed: {}", server.call_log(&id));
    }
    server.stop();
    let day = ivr_accounting::paris_day(ivr_accounting::chrono::Utc::now()).to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["report", "--from", &day, "--to", &day, "--format", "json", "--db"])
        .arg(format!("sqlite://{}", server.db.display()))
        .output()
        .expect("run ivr report");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let f = figures(&json).unwrap_or_else(|| panic!("no figures in {text}"));
    let n = |k: &str| f.get(k).and_then(serde_json::Value::as_f64).unwrap_or(-1.0);
    assert_eq!(n("calls"), 3.0, "{text}");
    assert_eq!(n("transferred"), 1.0, "{text}");
    assert_eq!(n("abandoned"), 2.0, "{text}");
    assert_eq!(n("productive"), 0.0, "{text}");
    // The first early call was followed by another the same day from the same number.
    assert!((n("reiteration_rate") - 1.0 / 3.0).abs() < 1e-6, "{text}");
}
