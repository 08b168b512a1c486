//! A PostgreSQL server of a test's own, which the test may stop and start again to make a
//! database outage. Shared by the accounting tests and the end-to-end outage test.

#![allow(dead_code)]

/// A PostgreSQL server of the test's own, which the test may stop and start again (a
/// database outage). Runs as the `postgres` user when the test runs as root (initdb refuses
/// root). None outside CI when the server binaries are missing.
pub struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
    as_root: bool,
}

impl OwnPostgres {
    pub fn start() -> Option<OwnPostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max();
        let Some(bin) = bin else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but no PostgreSQL server binaries in /usr/lib/postgresql");
            }
            eprintln!("no PostgreSQL server binaries: outage test skipped");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        // initdb refuses root: as root the server runs as `postgres`.
        let as_root = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
        if as_root {
            let ok = std::process::Command::new("chown").arg("postgres:").arg(dir.path()).status().map(|s| s.success()).unwrap_or(false);
            assert!(ok, "chown of the PostgreSQL directory to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port");
        let pg = OwnPostgres { dir, bin, port, as_root };
        let data = pg.dir.path().join("data");
        let out = pg.command("initdb").arg("-D").arg(&data).args(["-U", "ivr", "-A", "trust", "-E", "UTF8", "--no-sync"]).output().expect("initdb");
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        pg.ctl_start();
        Some(pg)
    }

    fn command(&self, tool: &str) -> std::process::Command {
        let path = self.bin.join(tool);
        if self.as_root {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            std::process::Command::new(path)
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://ivr@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts (again) on the same port; returns once it accepts connections.
    pub fn ctl_start(&self) {
        let data = self.dir.path().join("data");
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.path().display());
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o", &opts, "start"])
            .output()
            .expect("pg_ctl start");
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Stops at once (fast shutdown: open connections are cut, as in a crash of the link).
    pub fn ctl_stop(&self) {
        let data = self.dir.path().join("data");
        let _ = self.command("pg_ctl").arg("-D").arg(&data).args(["-m", "fast", "-w", "stop"]).output();
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.ctl_stop();
    }
}
