//! Shared harness of the telephony end-to-end tests: a free-port `ivr serve`
//! killed by its pid on drop, and bounded runs of SIPp scenarios.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

#[path = "../support/serve.rs"]
mod serve_run;
#[path = "../support/sipp.rs"]
mod sipp_run;
pub mod uac;
#[allow(unused_imports)]
pub use sipp_run::free_udp_port;

/// Distinct RTP port ranges per server in this process (tests run in parallel),
/// offset by the pid so concurrent test binaries do not collide either. Kept below
/// Linux's ephemeral ports (32768 and up): a client socket of another test bound to port
/// 0 must never land in a range a test counts as free.
pub fn rtp_range(size: u16) -> (u16, u16) {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let slot = NEXT.fetch_add(1, Ordering::SeqCst);
    let base = 10000 + ((std::process::id() % 16) as u16) * 600 + slot * (size + 2) % 600;
    let base = base & !1;
    (base, base + size)
}

pub struct Server {
    child: Child,
    pub port: u16,
    /// The RTP port range of its configuration (inclusive).
    pub rtp: (u16, u16),
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
        let mut s = Self::start_with(dir, &cfg);
        s.rtp = (lo, hi);
        s
    }

    pub fn start_with(dir: tempfile::TempDir, cfg: &str) -> Server {
        let cfg_path = dir.path().join("ivr.toml");
        std::fs::write(&cfg_path, cfg).expect("write config");
        let log = dir.path().join("server.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ivr"));
        cmd.args(["serve", "--app", "script", "--listen", "127.0.0.1:0", "--config"]).arg(&cfg_path).env("IVR_LOG", "debug");
        let (child, port) = serve_run::spawn(cmd, &log);
        Server { child, port, rtp: (0, 0), log, _dir: dir }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmRSS, VmHWM) of the server process in KiB: resident now, and its peak.
    pub fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field =
            |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()).unwrap_or(0);
        (field("VmRSS:"), field("VmHWM:"))
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
    let mut args = vec!["-trace_msg"];
    args.extend_from_slice(extra);
    let (success, logs) = sipp_run::run_sipp(server.port, &scenario(name), &args, limit, &["errors.log", "messages.log"]);
    let mut output = String::new();
    for (name, content) in logs {
        output.push_str(&format!("--- {name}\n"));
        output.push_str(&content);
    }
    SippRun { success, output }
}
