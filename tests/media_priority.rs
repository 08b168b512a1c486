//! The media path is protected by raising it, not by lowering recognition below the host:
//! in a running `ivr serve` the runtime threads (RTP, VAD, endpointing) run above the
//! process's base priority when permitted (root here), and the recognition workers between
//! them and the host's ordinary load, so a busy loop elsewhere slows recognition little.

mod conversation_common;

use conversation_common::Server;

/// (thread name, nice) of every thread of `pid`, from /proc.
fn threads(pid: u32) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc task list").flatten() {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default().trim().to_string();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Fields after "(comm)": state is field 3, nice is field 19.
        let nice = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(16)).and_then(|n| n.parse().ok());
        if let Some(nice) = nice {
            out.push((comm, nice));
        }
    }
    out
}

#[test]
fn media_threads_are_raised_and_recognition_is_not_lowered() {
    let server = Server::start("always-open", &["--asr-workers", "2", "--asr-threads", "1"]);
    let all = threads(server.pid());
    let runtime: Vec<i32> = all.iter().filter(|(n, _)| n.starts_with("tokio-r")).map(|(_, n)| *n).collect();
    let asr: Vec<i32> = all.iter().filter(|(n, _)| n.starts_with("asr-")).map(|(_, n)| *n).collect();
    assert!(!runtime.is_empty() && asr.len() == 2, "threads: {all:?}");
    let root = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false);
    let log = server.log_text();
    if root {
        assert!(runtime.iter().all(|n| *n == -10), "media threads raised: {all:?}");
        assert!(asr.iter().all(|n| *n == -5), "recognition between the media path and the host's other programs: {all:?}");
        assert!(log.contains("media path threads raised"), "{log}");
    } else {
        // Not permitted: recognition a little lower instead, and the log says why.
        assert!(asr.iter().all(|n| *n == 5), "{all:?}");
        assert!(log.contains("cannot raise the media path"), "{log}");
    }
}
