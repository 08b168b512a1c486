//! Starting `ivr serve` from an end-to-end test: its stderr logged to a file, its SIP port
//! read from the line it prints once ready. If that line does not come, the server is
//! killed by its own pid and the test panics with the log. Shared by the telephony and the
//! conversation harnesses.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Spawns `cmd` (an `ivr serve …` command) with stderr to `log`; returns the child and the
/// SIP port it announced.
pub fn spawn(mut cmd: Command, log: &Path) -> (Child, u16) {
    let log_file = std::fs::File::create(log).expect("log file");
    let mut child = cmd.env("NO_COLOR", "1").stdout(Stdio::piped()).stderr(Stdio::from(log_file)).spawn().expect("spawn ivr serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    let port = line.split_whitespace().find_map(|w| w.strip_prefix("sip=")).and_then(|a| a.rsplit(':').next()).and_then(|p| p.parse().ok());
    let Some(port) = port else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("ivr serve did not report its port: {line:?} log: {}", std::fs::read_to_string(log).unwrap_or_default());
    };
    (child, port)
}
