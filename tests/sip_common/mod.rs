//! Shared harness of the telephony end-to-end tests: a free-port `ivr serve`
//! killed by its pid on drop, and bounded runs of SIPp scenarios.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral port");
    s.local_addr().expect("local addr").port()
}

/// Distinct RTP port ranges per server in this process (tests run in parallel),
/// offset by the pid so concurrent test binaries do not collide either.
pub fn rtp_range(size: u16) -> (u16, u16) {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let slot = NEXT.fetch_add(1, Ordering::SeqCst);
    let base = 32000 + ((std::process::id() % 40) as u16) * 600 + slot * (size + 2) % 600;
    let base = base & !1;
    (base, base + size)
}

pub struct Server {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `ivr serve` on a free port with extra TOML config lines.
    pub fn start(extra_config: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let (lo, hi) = rtp_range(40);
        let cfg = format!(
            "public_address = \"127.0.0.1\"\nmax_calls = 20\n{extra_config}\n[rtp_ports]\nmin = {lo}\nmax = {hi}\n[prompts]\ndir = \"{}\"\n",
            dir.path().join("none").display()
        );
        Self::start_with(dir, &cfg)
    }

    pub fn start_with(dir: tempfile::TempDir, cfg: &str) -> Server {
        let cfg_path = dir.path().join("ivr.toml");
        std::fs::write(&cfg_path, cfg).expect("write config");
        let log = dir.path().join("server.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ivr"))
            .args(["serve", "--app", "script", "--listen", "127.0.0.1:0", "--config"])
            .arg(&cfg_path)
            .env("IVR_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("spawn ivr serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        let _ = reader.read_line(&mut line);
        let port = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("sip="))
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ivr serve did not report its port: {line:?} log: {}", std::fs::read_to_string(&log).unwrap_or_default());
        };
        Server { child, port, log, _dir: dir }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, within: Duration) -> bool {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if self.log_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/sipp").join(format!("{name}.xml"))
}

pub struct SippRun {
    pub success: bool,
    pub output: String,
}

/// Runs a SIPp scenario against the server, killed (by pid) if it overruns `limit`.
pub fn sipp(server: &Server, name: &str, extra: &[&str], limit: Duration) -> SippRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let sip_port = free_udp_port().to_string();
    let media_port = (free_udp_port() & !1).to_string();
    let mut fg = Command::new("sipp");
    fg.arg(format!("127.0.0.1:{}", server.port))
        .arg("-sf")
        .arg(scenario(name))
        .args(["-i", "127.0.0.1", "-p", &sip_port, "-mp", &media_port, "-m", "1", "-l", "1", "-nostdin"])
        .args(["-timeout", &format!("{}s", limit.as_secs()), "-timeout_error", "-trace_err", "-trace_msg"])
        .args(extra)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = fg.spawn().expect("spawn sipp (package sip-tester)");
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
    let mut output = String::new();
    if let Ok(rd) = std::fs::read_dir(dir.path()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with("errors.log") || name.ends_with("messages.log") {
                output.push_str(&format!("--- {name}\n"));
                output.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
    }
    SippRun { success: status.is_some_and(|s| s.success()), output }
}
