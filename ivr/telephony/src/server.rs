//! The tokio shell around [`Endpoint`]: moves datagrams and time, nothing else.
//!
//! One task owns the endpoint. It reads the SIP socket, the RTP datagrams that
//! per-call receive tasks forward, the application's commands, and a single 20 ms
//! ticker that paces every call's playback (no timer per call).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::{CallCommand, CallEvent};
use crate::endpoint::{Endpoint, EndpointConfig, Input, Output};

/// A conversation engine. Called once per answered call, from the endpoint task:
/// spawn your own task and return quickly.
pub trait Application: Send + Sync + 'static {
    fn on_call(&self, call: CallHandle);
}

/// The application's side of one call.
pub struct CallHandle {
    pub call_id: String,
    pub events: mpsc::UnboundedReceiver<CallEvent>,
    pub commands: CallCommander,
}

/// Sends commands for one call; cheap to clone.
#[derive(Clone)]
pub struct CallCommander {
    call_id: String,
    tx: mpsc::UnboundedSender<(String, CallCommand)>,
}

impl CallCommander {
    /// Returns false once the call is gone (the server stopped).
    pub fn send(&self, cmd: CallCommand) -> bool {
        self.tx.send((self.call_id.clone(), cmd)).is_ok()
    }
}

const TICK: Duration = Duration::from_millis(20);
const STATS_EVERY: Duration = Duration::from_secs(10);

struct Media {
    socket: Arc<UdpSocket>,
    task: JoinHandle<()>,
}

/// How often the counters are copied out for [`run_published`]'s readers.
const PUBLISH_EVERY: Duration = Duration::from_millis(500);

/// The endpoint's counters as last published by the server loop (metrics read them).
pub type SharedStats = Arc<std::sync::Mutex<crate::endpoint::Stats>>;

/// Runs until `shutdown` completes.
pub async fn run(cfg: EndpointConfig, sip: UdpSocket, rtp_ip: IpAddr, app: Arc<dyn Application>, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    run_published(cfg, sip, rtp_ip, app, shutdown, SharedStats::default()).await
}

/// [`run`], also copying the endpoint's counters into `published` twice a second (with
/// `active` set to the calls in progress), for a metrics exporter.
pub async fn run_published(
    cfg: EndpointConfig,
    sip: UdpSocket,
    rtp_ip: IpAddr,
    app: Arc<dyn Application>,
    shutdown: impl Future<Output = ()>,
    published: SharedStats,
) -> std::io::Result<()> {
    let mut ep = Endpoint::new(cfg);
    let mut next_publish = Instant::now();
    let (rtp_tx, mut rtp_rx) = mpsc::channel::<(u16, SocketAddr, Vec<u8>)>(8192);
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<(String, CallCommand)>();
    let mut media: HashMap<u16, Media> = HashMap::new();
    let mut apps: HashMap<String, mpsc::UnboundedSender<CallEvent>> = HashMap::new();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut next_stats = Instant::now() + STATS_EVERY;
    let mut buf = vec![0u8; 65535];
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            r = sip.recv_from(&mut buf) => match r {
                Ok((n, from)) => ep.handle_input(Instant::now(), Input::Sip { from, bytes: &buf[..n] }),
                // ICMP port unreachable from a vanished peer surfaces here on some systems.
                Err(e) => tracing::debug!(error = %e, "SIP socket receive error"),
            },
            Some((port, from, bytes)) = rtp_rx.recv() => ep.handle_input(Instant::now(), Input::Rtp { port, from, bytes: &bytes }),
            Some((call_id, command)) = cmd_rx.recv() => ep.handle_input(Instant::now(), Input::Command { call_id: &call_id, command }),
            _ = ticker.tick() => {
                let now = Instant::now();
                ep.handle_input(now, Input::Tick);
                if now >= next_publish {
                    next_publish = now + PUBLISH_EVERY;
                    let mut copy = ep.stats.clone();
                    copy.active = ep.active_calls() as u64;
                    *published.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = copy;
                }
                if now >= next_stats {
                    next_stats = now + STATS_EVERY;
                    let s = &ep.stats;
                    tracing::info!(calls = s.calls, active = ep.active_calls(), rejected_busy = s.rejected_busy, malformed = s.malformed,
                        rtp_lost = s.rtp_lost, rtp_late = s.rtp_late, rtp_foreign_source = s.rtp_foreign_source,
                        rtp_overflow = s.rtp_overflow, rtp_port_busy = s.rtp_port_busy, call_id_reused = s.call_id_reused, responses = ?s.responses, "stats");
                }
            }
        }
        while let Some(o) = ep.poll_output() {
            match o {
                Output::Sip { to, bytes } => send(&sip, &bytes, to).await,
                Output::Rtp { port, to, bytes } => {
                    if let Some(m) = media.get(&port) {
                        send(&m.socket, &bytes, to).await;
                    }
                }
                // The endpoint answers the call only once its port is bound; a busy
                // port (another process) sends it to the next one of the range.
                Output::OpenMedia { port } => match UdpSocket::bind(SocketAddr::new(rtp_ip, port)).await {
                    Ok(s) => {
                        let socket = Arc::new(s);
                        let task = tokio::spawn(receive_rtp(socket.clone(), port, rtp_tx.clone()));
                        media.insert(port, Media { socket, task });
                        ep.handle_input(Instant::now(), Input::MediaOpened { port });
                    }
                    Err(e) => {
                        tracing::debug!(port, error = %e, "cannot bind RTP port");
                        ep.handle_input(Instant::now(), Input::MediaFailed { port });
                    }
                },
                Output::CloseMedia { port } => {
                    if let Some(m) = media.remove(&port) {
                        m.task.abort();
                    }
                }
                Output::Event { call_id, event } => deliver(&mut apps, &app, &cmd_tx, call_id, event),
            }
        }
    }
    for (_, m) in media.drain() {
        m.task.abort();
    }
    Ok(())
}

fn deliver(
    apps: &mut HashMap<String, mpsc::UnboundedSender<CallEvent>>,
    app: &Arc<dyn Application>,
    cmd_tx: &mpsc::UnboundedSender<(String, CallCommand)>,
    call_id: String,
    event: CallEvent,
) {
    if matches!(event, CallEvent::Started(_)) {
        let (tx, rx) = mpsc::unbounded_channel();
        apps.insert(call_id.clone(), tx);
        app.on_call(CallHandle { call_id: call_id.clone(), events: rx, commands: CallCommander { call_id: call_id.clone(), tx: cmd_tx.clone() } });
    }
    let last = matches!(event, CallEvent::Hangup { .. });
    if let Some(tx) = apps.get(&call_id) {
        let _ = tx.send(event);
    }
    if last {
        apps.remove(&call_id);
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    match socket.try_send_to(bytes, to) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            let _ = socket.send_to(bytes, to).await;
        }
        Err(e) => tracing::debug!(%to, error = %e, "send failed"),
    }
}

/// Datagrams one call's RTP socket passes on per second at most: 40 times a 20 ms stream
/// (with its RTCP and key presses). Beyond that (a flood) they are dropped here, before
/// they cost an allocation or a place in the queue that every call shares, so one
/// flooded call cannot crowd the others' media out.
const MAX_RTP_PER_SECOND: u32 = 2000;

async fn receive_rtp(socket: Arc<UdpSocket>, port: u16, tx: mpsc::Sender<(u16, SocketAddr, Vec<u8>)>) {
    let mut buf = vec![0u8; 2048];
    let mut window = Instant::now();
    let mut in_window = 0u32;
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let now = Instant::now();
                if now.duration_since(window) >= Duration::from_secs(1) {
                    window = now;
                    in_window = 0;
                }
                in_window += 1;
                if in_window > MAX_RTP_PER_SECOND {
                    if in_window == MAX_RTP_PER_SECOND + 1 {
                        tracing::warn!(port, %from, "RTP flood: over {MAX_RTP_PER_SECOND} datagrams/s on this call, the excess is dropped");
                    }
                    continue;
                }
                // Under overload drop media rather than stall the SIP task.
                let _ = tx.try_send((port, from, buf[..n].to_vec()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}
