//! What this instance tells the supervisors, and what it reads from them.
//!
//! - [`Live`]: the registry of calls in progress, updated by the call tasks at their state
//!   changes (a few one-line hooks in `call.rs` and `recognize.rs`), plus a window of the
//!   recent recognition latencies. No caller data: a call is a short reference derived from
//!   its Call-ID, its flow, state and topic.
//! - [`Supervision::start`]: two background tasks on the shared database: the heartbeat
//!   (every 2 s, the instance's row in `instances`: calls in progress, SIP up, recognition
//!   queue and latency) and the switches/closures refresh (every 1 s into the
//!   [`SwitchesCache`] the call starts read, so no call ever waits on a query).
//!
//! Also installs the `/metrics` sampler: the telephony counters, the recognition queue and
//! the accounting drops are read from their owners at scrape time.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ivr_accounting::chrono::{DateTime, Utc};
use ivr_accounting::{InstanceBeat, LiveCall, Store};
use ivr_dialogue::hours::ClosedRange;
use ivr_dialogue::policy::Switches;
use ivr_dialogue::switches::{describe, SwitchesCache};
use sha2::{Digest, Sha256};

use super::Service;

/// How often the instance's row is written; the console shows instances seen within 10 s.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// How often the switches and closures are read back from the database.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// Recognition latencies kept for the heartbeat's percentiles.
const LATENCY_WINDOW: usize = 200;

/// Where a call is, as supervisors read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    Greeting,
    Listening,
    Recognizing,
    Answering,
    Transferring,
    Procedure,
    Closed,
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Greeting => "greeting",
            CallState::Listening => "listening",
            CallState::Recognizing => "recognizing",
            CallState::Answering => "answering",
            CallState::Transferring => "transferring",
            CallState::Procedure => "procedure",
            CallState::Closed => "closed",
        }
    }
}

/// A short reference for a call: the first 8 hex digits of the SHA-256 of its Call-ID.
/// The same on every page (the call review uses the Call-ID too), and it says nothing of
/// the caller.
pub fn reference(call_id: &str) -> String {
    hex::encode(Sha256::digest(call_id.as_bytes())).chars().take(8).collect()
}

struct Entry {
    reference: String,
    flow: u8,
    state: CallState,
    topic: Option<String>,
    started: DateTime<Utc>,
    /// A recognition job is running for the call.
    recognizing: bool,
    /// The call is inside a procedure (call-back, attestation) until its end prompt.
    procedure: bool,
    /// A transfer was asked for and has not failed.
    transferring: bool,
}

/// The calls in progress on this instance.
#[derive(Default)]
pub struct Live {
    calls: Mutex<HashMap<String, Entry>>,
    latencies: Mutex<VecDeque<u64>>,
}

impl Live {
    fn with<R>(&self, call_id: &str, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_mut(call_id).map(f)
    }

    pub fn call_started(&self, call_id: &str, flow: u8, closed: bool) {
        let state = if closed { CallState::Closed } else { CallState::Greeting };
        let entry =
            Entry { reference: reference(call_id), flow, state, topic: None, started: Utc::now(), recognizing: false, procedure: false, transferring: false };
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(call_id.to_string(), entry);
        ivr_console::metrics::global().call_started();
    }

    pub fn call_ended(&self, call_id: &str) {
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(call_id);
    }

    /// A recognition job was submitted (true) or its result arrived (false).
    pub fn recognizing(&self, call_id: &str, on: bool) {
        self.with(call_id, |e| {
            e.recognizing = on;
            if on && e.state == CallState::Listening {
                e.state = CallState::Recognizing;
            }
        });
    }

    /// The matcher's topic of the caller's last question.
    pub fn topic(&self, call_id: &str, topic: &str) {
        self.with(call_id, |e| e.topic = Some(topic.to_string()));
    }

    /// A transfer was asked for (true), or it failed and the bot goes on (false).
    pub fn transferring(&self, call_id: &str, on: bool) {
        self.with(call_id, |e| e.transferring = on);
    }

    /// After each step of the call: what plays now (the last clip asked for and not yet
    /// reported finished) and whether a transfer is under way decide the state.
    pub fn after_step(&self, call_id: &str, playing: Option<&str>) {
        self.with(call_id, |e| {
            let transferring = e.transferring;
            if let Some(key) = playing {
                let prompt = key.strip_prefix("prompt/").map(|p| p.split('#').next().unwrap_or(p));
                match prompt {
                    Some("callback_collect" | "attestation_collect") => e.procedure = true,
                    Some("callback_done" | "attestation_done") => e.procedure = false,
                    _ => {}
                }
            }
            e.state = match (playing, transferring) {
                (_, true) => CallState::Transferring,
                _ if e.state == CallState::Closed => CallState::Closed,
                _ if e.procedure => CallState::Procedure,
                (Some(key), false) => match key.strip_prefix("prompt/").map(|p| p.split('#').next().unwrap_or(p)) {
                    Some(p) if p.starts_with("greeting") || p == "crisis" || p == "saturation" => CallState::Greeting,
                    Some("wait_moment") => CallState::Recognizing,
                    Some("transfer") => CallState::Transferring,
                    _ => CallState::Answering,
                },
                (None, false) if e.recognizing => CallState::Recognizing,
                (None, false) => CallState::Listening,
            };
        });
    }

    /// One recognition's latency (queue + run), for the heartbeat and `/metrics`.
    pub fn asr_latency(&self, ms: u64) {
        ivr_console::metrics::global().asr_latency.observe_ms(ms);
        let mut w = self.latencies.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if w.len() == LATENCY_WINDOW {
            w.pop_front();
        }
        w.push_back(ms);
    }

    pub fn len(&self) -> usize {
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    pub fn snapshot(&self) -> Vec<LiveCall> {
        let calls = self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut v: Vec<LiveCall> = calls
            .values()
            .map(|e| LiveCall { reference: e.reference.clone(), flow: e.flow, state: e.state.as_str().to_string(), topic: e.topic.clone(), started: e.started })
            .collect();
        v.sort_by_key(|c| c.started);
        v
    }

    /// Median and 95th percentile of the recent recognition latencies (nearest rank).
    pub fn asr_percentiles(&self) -> (Option<u64>, Option<u64>) {
        let mut v: Vec<u64> = self.latencies.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().copied().collect();
        if v.is_empty() {
            return (None, None);
        }
        v.sort_unstable();
        let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        (Some(rank(0.5)), Some(rank(0.95)))
    }
}

/// The instance's name in the `instances` table: `[supervision] instance`, else
/// `hostname:sip_port`.
pub fn instance_name(configured: Option<&str>, sip_port: u16) -> String {
    if let Some(name) = configured.map(str::trim).filter(|n| !n.is_empty()) {
        return name.to_string();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{host}:{sip_port}")
}

/// The `[supervision]` table of the `ivr serve` configuration. Without `instance`, the
/// `[content] instance` names the instance, else `hostname:sip_port`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisionConfig {
    /// This instance's name on the supervisors' live view; default `hostname:sip_port`.
    pub instance: Option<String>,
}

impl SupervisionConfig {
    pub fn from_table(table: Option<&toml::Value>) -> anyhow::Result<SupervisionConfig> {
        match table {
            Some(v) => Ok(v.clone().try_into().map_err(|e| anyhow::anyhow!("invalid [supervision] configuration: {e}"))?),
            None => Ok(SupervisionConfig::default()),
        }
    }
}

/// What `ivr serve` starts for supervision: with a database, the heartbeat and switches
/// refresh ([`Supervision`]); without, only the metrics sampler.
pub async fn start_for_serve(
    db_url: Option<&str>,
    table: Option<&toml::Value>,
    content_table: Option<&toml::Value>,
    service: &Arc<Service>,
    sip_port: u16,
    sip_up: Arc<AtomicBool>,
    telephony: ivr_telephony::server::SharedStats,
) -> anyhow::Result<Option<Supervision>> {
    let mut cfg = SupervisionConfig::from_table(table)?;
    // One name per instance on every page: the content's report uses `[content] instance`.
    if cfg.instance.is_none() {
        cfg.instance = content_table.and_then(|c| c.get("instance")).and_then(|v| v.as_str()).map(str::to_string);
    }
    let Some(url) = db_url else {
        install_sampler(service, sip_up, telephony);
        return Ok(None);
    };
    let store = Store::connect(url).await.map_err(|e| anyhow::anyhow!("opening the database for supervision: {e}"))?;
    let name = instance_name(cfg.instance.as_deref(), sip_port);
    tracing::info!(instance = %name, "supervision: heartbeat every 2 s, switches read every second");
    Ok(Some(Supervision::start(store, Arc::clone(service), name, sip_up, telephony).await))
}

/// Reads the switches and closures once into the cache; logs a change of switches.
pub async fn refresh_once(store: &Store, cache: &SwitchesCache) -> Result<(), ivr_accounting::Error> {
    let state = store.switch_state().await?;
    let today = ivr_accounting::paris_day(Utc::now());
    let closures: Vec<ClosedRange> = store.closures(Some(today)).await?.into_iter().map(|c| ClosedRange { first: c.first, last: c.last }).collect();
    let now = Switches { saturation: state.flags.saturation, crisis: state.flags.crisis, closed: state.flags.closed };
    let closures_before = cache.closures();
    if closures_before != closures {
        let today_closed = ivr_dialogue::hours::in_closure(Utc::now(), &closures);
        tracing::info!(closures = closures.len(), today_closed, "exceptional closures changed");
    }
    let before = cache.set(now, closures);
    if before != now {
        tracing::info!(by = state.set_by.as_deref().unwrap_or("-"), "switches changed: {} → {}", describe(before), describe(now));
    }
    Ok(())
}

/// The background tasks of supervision, stopped with the server.
pub struct Supervision {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Supervision {
    /// Starts the heartbeat and the switches refresh on `store` (first refresh done before
    /// this returns, so the first call hears the switches in force), and installs the
    /// metrics sampler.
    pub async fn start(
        store: Store,
        service: Arc<Service>,
        name: String,
        sip_up: Arc<AtomicBool>,
        telephony: ivr_telephony::server::SharedStats,
    ) -> Supervision {
        install_sampler(&service, sip_up.clone(), telephony);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        if let Some(cache) = service.db_switches.clone() {
            if let Err(e) = refresh_once(&store, &cache).await {
                tracing::warn!(error = %e, "switches not read from the database: all off until the next read");
            }
            let (store, mut stopped) = (store.clone(), stopped.clone());
            tasks.push(tokio::spawn(async move {
                let mut failing = false;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(REFRESH_EVERY) => {},
                        _ = stopped.changed() => return,
                    }
                    match refresh_once(&store, &cache).await {
                        Ok(()) if failing => {
                            failing = false;
                            tracing::info!("switches read from the database again");
                        }
                        Ok(()) => {}
                        Err(e) if !failing => {
                            failing = true;
                            tracing::warn!(error = %e, "switches not read from the database: last state kept");
                        }
                        Err(_) => {}
                    }
                }
            }));
        }
        let started = Utc::now();
        let mut stopped_beat = stopped;
        tasks.push(tokio::spawn(async move {
            let mut failing = false;
            loop {
                let (p50, p95) = service.live.asr_percentiles();
                let beat = InstanceBeat {
                    name: name.clone(),
                    started,
                    updated: Utc::now(),
                    sip_up: sip_up.load(Ordering::SeqCst),
                    calls: service.live.snapshot(),
                    asr_queue: u32::try_from(service.pool.load().queued).unwrap_or(u32::MAX),
                    asr_p50_ms: p50,
                    asr_p95_ms: p95,
                    content: Some(content_label()),
                };
                match store.heartbeat(&beat).await {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("heartbeat written again");
                    }
                    Ok(()) => {}
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "heartbeat not written: the console will not list this instance until it is");
                    }
                    Err(_) => {}
                }
                tokio::select! {
                    _ = tokio::time::sleep(HEARTBEAT_EVERY) => {},
                    _ = stopped_beat.changed() => return,
                }
            }
        }));
        Supervision { stop, tasks }
    }

    /// Stops both tasks at once: a heartbeat or a read cut short changes nothing (the row is
    /// replaced whole; the instance leaves the live view 10 s after its last beat), and
    /// waiting would hold the shutdown while the database is unreachable.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

/// The content version this process runs, as the live view and `/metrics` show it.
fn content_label() -> String {
    match super::content::version_gauge().load(Ordering::SeqCst) {
        v if v <= 0 => "fichiers du dépôt".to_string(),
        v => format!("version {v}"),
    }
}

/// The metrics read at scrape time from their owners.
pub fn install_sampler(service: &Arc<Service>, sip_up: Arc<AtomicBool>, telephony: ivr_telephony::server::SharedStats) {
    // Weak: the registry is the process's, and a strong reference would keep the service
    // (and its accounting recorder, whose last clone ends the writer) alive past shutdown.
    let service = Arc::downgrade(service);
    ivr_console::metrics::global().set_sampler(move || {
        let t = telephony.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        // 0: the repository's files (no version from the database).
        ivr_console::metrics::global().set_content_version(Some(super::content::version_gauge().load(Ordering::SeqCst).to_string()));
        let Some(service) = service.upgrade() else {
            return ivr_console::metrics::Sample { sip_up: sip_up.load(Ordering::SeqCst), ..Default::default() };
        };
        ivr_console::metrics::Sample {
            calls_active: service.live.len() as u64,
            sip_up: sip_up.load(Ordering::SeqCst),
            sip_responses: t.responses,
            rtp_late: t.rtp_late,
            rtp_lost: t.rtp_lost,
            rtp_foreign_source: t.rtp_foreign_source,
            rtp_overflow: t.rtp_overflow,
            asr_queue: service.pool.load().queued as u64,
            accounting_dropped: service.accounting.as_ref().map_or(0, |a| a.recorder.dropped_events()),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_the_call() {
        let live = Live::default();
        live.call_started("c1@x", 2, false);
        let state = || live.snapshot()[0].state.clone();
        assert_eq!(state(), "greeting");
        live.after_step("c1@x", Some("prompt/greeting_choix2#0"));
        assert_eq!(state(), "greeting");
        live.after_step("c1@x", None);
        assert_eq!(state(), "listening");
        live.recognizing("c1@x", true);
        assert_eq!(state(), "recognizing");
        live.recognizing("c1@x", false);
        live.topic("c1@x", "aide-logement");
        live.after_step("c1@x", Some("answer/aide-logement"));
        assert_eq!(state(), "answering");
        live.after_step("c1@x", Some("prompt/callback_collect"));
        live.after_step("c1@x", None);
        assert_eq!(state(), "procedure", "keying inside the procedure");
        live.after_step("c1@x", Some("prompt/callback_done"));
        assert_eq!(state(), "answering");
        live.transferring("c1@x", true);
        live.after_step("c1@x", Some("prompt/transfer"));
        assert_eq!(state(), "transferring");
        let snap = live.snapshot();
        assert_eq!(snap[0].topic.as_deref(), Some("aide-logement"));
        assert_eq!(snap[0].reference, reference("c1@x"));
        assert_eq!(snap[0].reference.len(), 8);
        live.call_ended("c1@x");
        assert!(live.snapshot().is_empty());
        live.call_started("c2@x", 3, true);
        live.after_step("c2@x", Some("prompt/closed"));
        assert_eq!(live.snapshot()[0].state, "closed");
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let live = Live::default();
        assert_eq!(live.asr_percentiles(), (None, None));
        for ms in 1..=100 {
            live.asr_latency(ms);
        }
        assert_eq!(live.asr_percentiles(), (Some(50), Some(95)));
        for _ in 0..LATENCY_WINDOW {
            live.asr_latency(7);
        }
        assert_eq!(live.asr_percentiles(), (Some(7), Some(7)), "the window keeps the recent ones only");
    }

    #[test]
    fn instance_name_configured_or_host_and_port() {
        assert_eq!(instance_name(Some(" ivr-lyon-1 "), 5060), "ivr-lyon-1");
        let derived = instance_name(None, 5071);
        assert!(derived.ends_with(":5071") && derived.len() > ":5071".len(), "{derived}");
    }
}
