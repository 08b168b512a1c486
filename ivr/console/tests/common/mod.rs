//! Test support shared by the console's browser tests: headless Chromium over WebDriver
//! (Debian `chromium` + `chromium-driver`), started and stopped by the test, and a console
//! served on 127.0.0.1 with a fresh SQLite store.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use ivr_console::{AppState, ConsoleConfig, Health};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const PASSWORD: &str = "Correct-Cheval-42";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One WebDriver call over plain HTTP/1.1 (Connection: close), bounded in time.
pub async fn wd(port: u16, method: &str, path: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let call = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(req.as_bytes()).await?;
        // Read the head, then exactly Content-Length bytes (the driver may keep the
        // connection open whatever Connection says).
        let mut out = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
                let len = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
                if len.is_some_and(|len| out.len() >= end + 4 + len) {
                    break;
                }
            }
        }
        Ok::<_, std::io::Error>(out)
    };
    let out = tokio::time::timeout(Duration::from_secs(60), call).await.expect("webdriver answered in time").expect("webdriver I/O");
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("webdriver JSON ({e}): {head}\n{body}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{method} {path}: {head}\n{v}");
    v
}

pub struct Driver {
    child: Child,
    port: u16,
    session: String,
}

impl Driver {
    pub async fn start(profile: &std::path::Path) -> Option<Driver> {
        let bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].into_iter().map(PathBuf::from).find(|p| p.exists());
        let Some(bin) = bin else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but chromedriver is missing (apt: chromium chromium-driver, scripts/setup.sh)");
            }
            eprintln!("chromedriver not installed: browser test skipped");
            return None;
        };
        let port = free_port();
        let child = Command::new(bin).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start chromedriver");
        let mut d = Driver { child, port, session: String::new() };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,860",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let v = wd(port, "POST", "/session", Some(caps)).await;
        d.session = v["value"]["sessionId"].as_str().expect("session id").to_string();
        Some(d)
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        wd(self.port, method, &format!("/session/{}{path}", self.session), body).await["value"].take()
    }

    pub async fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn element(&self, css: &str) -> String {
        let v = self.call("POST", "/element", Some(json!({"using": "css selector", "value": css}))).await;
        v["element-6066-11e4-a52e-4f735466cecf"].as_str().unwrap_or_else(|| panic!("no element {css}: {v}")).to_string()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call("POST", &format!("/element/{id}/value"), Some(json!({ "text": text }))).await;
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call("POST", &format!("/element/{id}/click"), Some(json!({}))).await;
    }

    pub async fn source(&self) -> String {
        self.call("GET", "/source", None).await.as_str().unwrap_or_default().to_string()
    }

    pub async fn url(&self) -> String {
        self.call("GET", "/url", None).await.as_str().unwrap_or_default().to_string()
    }

    /// Waits (bounded) until the current URL ends with `suffix`: a click returns before the
    /// form's answer when the server is slow (argon2 on a loaded machine).
    pub async fn wait_url(&self, suffix: &str) -> bool {
        for _ in 0..150 {
            if self.url().await.ends_with(suffix) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Waits (bounded) until the page holds `text`; returns the page.
    pub async fn wait_text(&self, text: &str) -> String {
        let mut page = String::new();
        for _ in 0..150 {
            page = self.source().await;
            if page.contains(text) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        page
    }

    pub async fn screenshot(&self, path: &std::path::Path) {
        let b64 = self.call("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(b64.as_str().expect("screenshot")).expect("base64");
        assert_eq!(&png[1..4], b"PNG");
        std::fs::write(path, png).expect("write screenshot");
    }

    pub async fn stop(mut self) {
        let _ = wd(self.port, "DELETE", &format!("/session/{}", self.session), None).await;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Only our own child, by its handle (a panic mid-test still stops it).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A console served on 127.0.0.1 (an ephemeral port) until [`Served::stop`].
pub struct Served {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ivr_console::server::ServeError>>,
}

impl Served {
    pub async fn start(state: AppState) -> Served {
        let listener = ivr_console::server::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap(), false).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(ivr_console::server::serve(listener, ivr_console::router(state), None, async move {
            let _ = stop_rx.await;
        }));
        Served { base, stop: Some(stop_tx), task }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
    }
}

/// The state of a console on `store`, no TLS, SIP marked up.
pub fn state(store: ivr_accounting::Store) -> AppState {
    AppState::new(
        Some(store),
        ConsoleConfig::default(),
        false,
        Health { version: "test", sip_up: Arc::new(AtomicBool::new(true)), content_version: Default::default() },
    )
}

/// Where a browser test's screenshots go: `target/<profile>/tmp/<name>/`.
pub fn screenshot_dir(name: &str) -> PathBuf {
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&shots).unwrap();
    shots
}

impl Driver {
    /// Logs in through the login form and waits for the home page.
    pub async fn login(&self, base: &str, name: &str, password: &str) {
        self.go(&format!("{base}/connexion")).await;
        self.type_into("#name", name).await;
        self.type_into("#password", password).await;
        self.click("button[type=submit]").await;
        assert!(self.wait_url("/").await, "home after the login of {name}");
    }

    /// Logs out through the header's form.
    pub async fn logout(&self) {
        self.click("header form button[type=submit]").await;
        assert!(self.wait_url("/connexion").await, "login page after logout");
    }
}
