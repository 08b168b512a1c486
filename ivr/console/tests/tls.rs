//! HTTPS with rustls: a certificate made by `openssl` (skipped when the command is missing,
//! except under CI), the console served over TLS on 127.0.0.1, a rustls client that trusts
//! only that certificate gets `/healthz` with HSTS; clear HTTP to the same port gets no
//! answer; a missing key is refused with its path.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use ivr_console::{AppState, ConsoleConfig, Health};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn make_cert(dir: &std::path::Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but openssl could not make a test certificate");
        }
        eprintln!("openssl missing: TLS test skipped");
        return None;
    }
    Some((cert, key))
}

#[tokio::test]
async fn the_console_speaks_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = make_cert(dir.path()) else { return };
    assert!(matches!(ivr_console::server::load_tls(&cert, &dir.path().join("absent.pem")), Err(ivr_console::server::ServeError::Read { .. })));
    let tls = ivr_console::server::load_tls(&cert, &key).unwrap();
    let state = AppState::new(
        None,
        ConsoleConfig::default(),
        true,
        Health { version: "t", sip_up: Arc::new(AtomicBool::new(false)), content_version: Default::default() },
    );
    let listener = ivr_console::server::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap(), true).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ivr_console::server::serve(listener, ivr_console::router(state), Some(tls), async move {
        let _ = stopped.await;
    }));

    // A client that trusts this certificate only.
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&cert).unwrap();
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut s = connector.connect(name, tcp).await.expect("TLS handshake");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        out
    };
    let out = tokio::time::timeout(Duration::from_secs(20), exchange).await.expect("answered in time");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.to_lowercase().contains("strict-transport-security: max-age="), "{out}");
    assert!(out.contains("\"sip\":false"), "{out}");

    // Clear HTTP on the TLS port: no HTTP answer.
    let clear = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        out
    };
    let out = tokio::time::timeout(Duration::from_secs(20), clear).await.expect("closed in time");
    assert!(!String::from_utf8_lossy(&out).contains("200 OK"));

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
}
