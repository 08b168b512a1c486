//! Serving the console: plain HTTP on loopback, or HTTPS (rustls, TLS 1.2/1.3) anywhere.

use std::future::Future;
use std::io::BufReader;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("no certificate in {0}")]
    NoCertificate(String),
    #[error("no private key in {0}")]
    NoKey(String),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// The address to bind: without TLS, a non-loopback address is replaced by 127.0.0.1 on
/// the same port (the console never serves clear HTTP beyond this machine).
pub fn bind_address(asked: SocketAddr, tls: bool) -> SocketAddr {
    if tls || asked.ip().is_loopback() {
        asked
    } else {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), asked.port())
    }
}

/// rustls server configuration from PEM files (TLS 1.3 and 1.2, ring).
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let open = |p: &Path| std::fs::File::open(p).map(BufReader::new).map_err(|source| ServeError::Read { path: p.display().to_string(), source });
    let certs = rustls_pemfile::certs(&mut open(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| ServeError::Read { path: cert.display().to_string(), source })?;
    if certs.is_empty() {
        return Err(ServeError::NoCertificate(cert.display().to_string()));
    }
    let key_der = rustls_pemfile::private_key(&mut open(key)?)
        .map_err(|source| ServeError::Read { path: key.display().to_string(), source })?
        .ok_or_else(|| ServeError::NoKey(key.display().to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Binds `asked` (see [`bind_address`]) and logs where the console is.
pub async fn bind(asked: SocketAddr, tls: bool) -> Result<TcpListener, ServeError> {
    let addr = bind_address(asked, tls);
    let listener = TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener.local_addr()?;
    if tls {
        tracing::info!(%bound, "console: HTTPS (TLS 1.2/1.3)");
    } else {
        if addr != asked {
            tracing::warn!(asked = %asked, %bound, "console: no [console] cert/key, so plain HTTP on loopback only instead of the address asked");
        }
        tracing::info!(%bound, "console: plain HTTP, loopback only (configure [console] cert and key for HTTPS)");
    }
    Ok(listener)
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let Some(tls) = tls else {
        // The peer's address reaches handlers (`/metrics` is for loopback peers by default).
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown).await?;
        return Ok(());
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "console: accept failed");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone().layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "console: TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let service = TowerToHyperService::new(app);
            if let Err(e) = auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(%peer, error = %e, "console: connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_http_stays_on_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(bind_address(any, false), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(bind_address(any, true), any);
        let lo: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(bind_address(lo, false), lo);
        let lo6: SocketAddr = "[::1]:9000".parse().unwrap();
        assert_eq!(bind_address(lo6, false), lo6);
    }
}
