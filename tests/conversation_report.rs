//! Issue 7 end to end: real SIP calls through `ivr serve` are counted by `ivr report` from
//! the SQLite store the service wrote (a spoken question whose answer is heard to the end,
//! hang-up during the greeting twice from one number, a keypad transfer to an agent).

mod conversation_common;

use std::time::Duration;

use conversation_common::{call, clip_ms, report_figures, scenario, speak, write_pcap, Server, Step};

#[test]
fn report_counts_the_calls_served() {
    let mut server = Server::start("always-open", &["--asr-workers", "1", "--asr-threads", "1"]);
    let pid = std::process::id();
    let dir = tempfile::tempdir().expect("tempdir");
    // The listening caller asks during the greeting and stays silent on the line: the answer
    // plays to its end, then the follow-up question, then the bot's no-input goodbye and BYE.
    // Waiting for the bot's BYE keeps the test independent of the recognizer's latency on a
    // loaded machine (a fixed wait cut the answer short when the question took 15 s).
    let answer_ms = clip_ms("answer/rsa");
    let speech = speak("Comment est-ce que je peux toucher le RSA ?", dir.path(), "rsa");
    let speech_ms = speech.len() as u64 / 8;
    let pcap = dir.path().join("rsa.pcap");
    write_pcap(&pcap, &speech, 300, (answer_ms + 40_000) as u32);
    let calls: [(&str, &str, Vec<Step>); 4] = [
        ("listen", "0677777777", vec![Step::Pause(1500), Step::Audio(pcap), Step::ExpectBye]),
        ("early1", "0655555555", vec![Step::Pause(2000)]),
        ("early2", "0655555555", vec![Step::Pause(1500)]),
        ("agent", "0666666666", vec![Step::Pause(800), Step::Key('0'), Step::ExpectRefer { header: "X-Ivr-Reason", regexp: "keypad0".into() }]),
    ];
    for (name, from, steps) in &calls {
        let id = format!("rep-{name}-{pid}");
        let (ok, out) = call(&server, &id, &scenario(from, 2, steps), Duration::from_secs(120));
        assert!(ok, "{name}: {out}\n{}", server.call_log(&id));
        assert!(server.wait_call_log(&id, "call record committed", Duration::from_secs(5)), "{name} not committed: {}", server.call_log(&id));
    }
    let listen_log = server.call_log(&format!("rep-listen-{pid}"));
    assert!(listen_log.contains("play key=answer/rsa"), "the RSA answer was not played:\n{listen_log}");
    server.stop();
    let day = ivr_accounting::paris_day(ivr_accounting::chrono::Utc::now()).to_string();
    let text = server.ivr(&["report", "--from", &day, "--to", &day, "--format", "json"]).unwrap_or_else(|e| panic!("{e}"));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let f = report_figures(&json).unwrap_or_else(|| panic!("no figures in {text}"));
    let n = |k: &str| f.get(k).and_then(serde_json::Value::as_f64).unwrap_or(-1.0);
    assert_eq!(n("calls"), 4.0, "{text}");
    assert_eq!(n("answered_by_bot"), 1.0, "{text}");
    assert_eq!(n("transferred"), 1.0, "{text}");
    assert_eq!(n("abandoned"), 2.0, "{text}");
    // Only the listening caller: answer heard, no transfer, no second call that day.
    assert_eq!(n("productive"), 1.0, "{text}");
    assert!((n("deflection_rate") - 0.25).abs() < 1e-6, "{text}");
    // Productive hours are that call's answered time: at least the answer, at most the call.
    let hours = n("productive_hours");
    eprintln!("listen-fully call: productive hours {hours:.5}, heard ratio {:.3}, answer {answer_ms} ms", n("avg_heard_ratio"));
    assert!(hours > (300 + speech_ms + answer_ms) as f64 / 3.6e6 && hours < 120.0 / 3600.0, "productive hours {hours}: {text}");
    // The one topic answer of the day was heard to its end.
    assert!(n("avg_heard_ratio") > 0.99 && n("avg_heard_ratio") <= 1.0, "{text}\n{listen_log}");
    // The first early call was followed by another the same day from the same number.
    assert!((n("reiteration_rate") - 1.0 / 4.0).abs() < 1e-6, "{text}");
}
