//! Running one SIPp scenario from an end-to-end test: free ports on 127.0.0.1, a
//! bounded wait, SIPp killed by its own pid if it overruns, its log files collected.
//! Shared by the telephony and the conversation harnesses.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral port");
    s.local_addr().expect("local addr").port()
}

/// Runs `scenario` once against `127.0.0.1:server_port` with `extra` SIPp arguments.
/// Returns whether SIPp exited successfully in time, and the (name, content) of its
/// log files whose names end with one of `log_suffixes`.
pub fn run_sipp(server_port: u16, scenario: &Path, extra: &[&str], limit: Duration, log_suffixes: &[&str]) -> (bool, Vec<(String, String)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sip_port = free_udp_port().to_string();
    let media_port = (free_udp_port() & !1).to_string();
    let mut child = Command::new("sipp")
        .arg(format!("127.0.0.1:{server_port}"))
        .arg("-sf")
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-p", &sip_port, "-mp", &media_port, "-m", "1", "-l", "1", "-nostdin"])
        .args(["-timeout", &format!("{}s", limit.as_secs()), "-timeout_error", "-trace_err"])
        .args(extra)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sipp (package sip-tester)");
    let end = Instant::now() + limit + Duration::from_secs(5);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let mut logs = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir.path()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if log_suffixes.iter().any(|s| name.ends_with(s)) {
                logs.push((name, std::fs::read_to_string(e.path()).unwrap_or_default()));
            }
        }
    }
    (status.is_some_and(|s| s.success()), logs)
}
