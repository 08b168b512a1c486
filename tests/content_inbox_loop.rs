//! The editors' loop end to end, on a running `ivr serve`: a caller asks a question the
//! bot does not understand; it appears among the unanswered questions (its transcript,
//! never the caller's number); the question is added as a phrasing of a topic and the
//! content is published; the server loads the new version without a restart, `ivr
//! classify` answers the question, and a new call with the same words hears the answer.

mod conversation_common;

use std::time::{Duration, Instant};

use conversation_common::{call, scenario, speak, write_pcap, Server, Step};

/// Not a topic of the catalogue today; an editor decides it belongs with the local aids.
const QUESTION: &str = "Est-ce que la caf peut m'aider à payer le permis de conduire ?";
const TOPIC: &str = "aides-locales";
const CALLER: &str = "0655512345";

fn ask(server: &Server, pcap: &std::path::Path, speech_ms: u32, call_id: &str) -> String {
    let steps = [Step::Pause(1500), Step::Audio(pcap.to_path_buf()), Step::Pause(300 + speech_ms + 12000)];
    let (ok, out) = call(server, call_id, &scenario(CALLER, 2, &steps), Duration::from_secs(60));
    let log = server.call_log(call_id);
    assert!(ok, "sipp failed: {out}\n{log}");
    log
}

fn wait_log(server: &Server, needle: &str, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if server.log_text().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[test]
fn an_unanswered_question_becomes_a_phrasing_and_is_answered_after_publication() {
    let server = Server::start("always-open", &["--asr-workers", "1", "--asr-threads", "2"]);
    assert!(wait_log(&server, "content version loaded", Duration::from_secs(60)), "version 1 loaded:\n{}", server.log_text());
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = speak(QUESTION, dir.path(), "permis");
    let pcap = dir.path().join("permis.pcap");
    write_pcap(&pcap, &speech, 300, 13000);
    let speech_ms = speech.len() as u32 / 8;

    // 1. Not understood.
    let first = format!("inbox-1-{}", std::process::id());
    let log = ask(&server, &pcap, speech_ms, &first);
    assert!(!log.contains(&format!("play key=answer/{TOPIC}")), "answered before the editor's change:\n{log}");

    // 2. Among the unanswered questions, with its words and without the caller's number.
    let db_url = format!("sqlite://{}", server.db.display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let heard = rt.block_on(async {
        let store = ivr_accounting::Store::connect(&db_url).await.expect("open the server's database");
        let now = ivr_accounting::chrono::Utc::now();
        let mut found = None;
        // The call's record is written when it ends: wait for it (bounded).
        for _ in 0..50 {
            let list = store
                .unanswered_questions(now - ivr_accounting::chrono::Duration::hours(1), now + ivr_accounting::chrono::Duration::hours(1))
                .await
                .expect("inbox");
            if let Some(q) = list.into_iter().find(|q| q.call_id.starts_with(&first)) {
                found = Some(q);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        store.close().await;
        found
    });
    let heard = heard.unwrap_or_else(|| panic!("the question is not among the unanswered ones:\n{}", server.call_log(&first)));
    let transcript = heard.transcript.clone().expect("its transcript is kept");
    assert!(transcript.to_lowercase().contains("permis"), "{transcript}");
    assert!(!format!("{heard:?}").contains(CALLER) && !format!("{heard:?}").contains(&CALLER[1..]), "no caller number: {heard:?}");

    // 3. The editor adds it to the topic's phrasings and publishes.
    let content = dir.path().join("content");
    server.ivr(&["knowledge", "export", content.to_str().expect("utf-8 path")]).expect("export the published version");
    let file = content.join("knowledge").join(format!("{TOPIC}.toml"));
    let mut topic: toml::Table = toml::from_str(&std::fs::read_to_string(&file).expect("topic file")).expect("topic TOML");
    match topic.get_mut("examples") {
        Some(toml::Value::Array(a)) => a.push(toml::Value::String(transcript.clone())),
        other => panic!("no examples array: {other:?}"),
    }
    std::fs::write(&file, toml::to_string(&topic).expect("write TOML")).expect("write topic");
    let out = server
        .ivr(&["knowledge", "import", content.to_str().expect("utf-8 path"), "--note", "question du répondeur", "--publish"])
        .expect("import and publish");
    eprintln!("{out}");
    assert!(wait_log(&server, "content version loaded version=2", Duration::from_secs(120)), "version 2 loaded without a restart:\n{}", server.log_text());

    // 4. `ivr classify` on the published files answers it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["classify", "--knowledge"])
        .arg(content.join("knowledge"))
        .env("IVR_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(format!("{transcript}\n").as_bytes())?;
            c.wait_with_output()
        })
        .expect("run ivr classify");
    let decision: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON decision");
    assert_eq!(decision["intent"], TOPIC, "{decision}");

    // 5. A new call with the same words hears the answer.
    let second = format!("inbox-2-{}", std::process::id());
    let log = ask(&server, &pcap, speech_ms, &second);
    let answered = server.wait_call_log(&second, &format!("play key=answer/{TOPIC}"), Duration::from_secs(5));
    assert!(answered || log.contains(&format!("play key=answer/{TOPIC}")), "the new phrasing is answered:\n{log}");
}
