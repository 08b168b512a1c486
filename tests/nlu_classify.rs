//! `ivr classify` and `ivr knowledge check` as a caller of the binary sees them.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn classify_writes_one_json_decision_per_line_quickly() {
    let lines = ["j'ai oublié mon mot de passe", "je veux parler à un conseiller pour mon rsa", "euh", "je voudrais commander une pizza"];
    // 160 utterances, as many as an evaluation run.
    let input: String = (0..40).flat_map(|_| lines.iter()).map(|l| format!("{l}\n")).collect();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["classify", "--knowledge"])
        .arg(repo().join("knowledge"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ivr");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    // Bounded: a hung classifier is killed by its own pid.
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("ivr classify did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = started.elapsed();
    writer.join().expect("writer").expect("write stdin");
    let out = child.wait_with_output().expect("output");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let decisions: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(decisions.len(), 160);
    assert_eq!(decisions[0]["text"], lines[0]);
    assert_eq!(decisions[0]["intent"], "mot-de-passe-oublie");
    assert!(decisions[0]["score"].as_f64().is_some_and(|s| s > 0.0));
    assert!(decisions[0]["runner_up"]["intent"].is_string());
    assert_eq!(decisions[1]["intent"], "@agent");
    assert_eq!(decisions[1]["action"], "transfer");
    assert_eq!(decisions[2]["intent"], "@none");
    assert_eq!(decisions[3]["intent"], "@none");
    assert_eq!(decisions[3]["action"], "fallback");
    // Index build + 160 utterances: well under 2 s on one core; slack for a busy CI.
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
}

#[test]
fn knowledge_check_reports_file_and_line_and_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("catalog.tsv"), "slug\tchoix\nrsa\t2\n").expect("write");
    std::fs::write(dir.path().join("rsa.toml"), "slug = \"rsa\"\nflow = = 2\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_ivr")).args(["knowledge", "check", "--dir"]).arg(dir.path()).output().expect("run ivr");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("rsa.toml:2: "), "{stdout}");

    let out = Command::new(env!("CARGO_BIN_EXE_ivr")).args(["knowledge", "check", "--dir"]).arg(repo().join("knowledge")).output().expect("run ivr");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}
