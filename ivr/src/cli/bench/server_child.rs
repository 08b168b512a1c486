//! `ivr serve` as the child of a benchmark: started from this same binary (so its memory
//! and CPU are measured apart), its SIP address read from the line it prints once ready,
//! stopped by its own pid only.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

pub struct ServerChild {
    child: Child,
    pub addr: SocketAddr,
}

impl ServerChild {
    /// `ivr serve` of this binary, to be given its arguments and started with [`spawn`].
    ///
    /// [`spawn`]: ServerChild::spawn
    pub fn command() -> anyhow::Result<Command> {
        let mut cmd = Command::new(std::env::current_exe().context("locating this binary")?);
        cmd.arg("serve");
        Ok(cmd)
    }

    /// Starts `cmd` and waits for its `listening sip=ADDR ...` line.
    pub fn spawn(mut cmd: Command) -> anyhow::Result<ServerChild> {
        let mut child = cmd.stdout(Stdio::piped()).spawn().context("starting ivr serve")?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let addr = line.split_whitespace().find_map(|w| w.strip_prefix("sip=")).and_then(|a| a.parse().ok());
        let mut server = ServerChild { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)) };
        match addr {
            Some(a) => {
                server.addr = a;
                Ok(server)
            }
            None => {
                server.stop();
                anyhow::bail!("ivr serve did not report its address: {line:?}")
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGINT (the server ends its calls and flushes its records), then kill after 5 s.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
