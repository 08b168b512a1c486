//! `ivr serve`: load the configuration, bind the SIP socket, run the telephony
//! shell with the conversation (or the fixed call script, `--app script`) until Ctrl-C
//! or SIGTERM. Shutdown: calls in progress are ended with a BYE, their records and every
//! other queued accounting item are committed, then the process exits.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ivr_telephony::app::CallCommand;
use ivr_telephony::config::Config;
use ivr_telephony::endpoint::EndpointConfig;
use ivr_telephony::media::prompt::Prompt;
use ivr_telephony::script::FixedScript;
use ivr_telephony::server::{Application, CallCommander, CallHandle};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

use crate::service::call::ConversationApp;
use crate::service::content::{ContentCache, ContentConfig, ContentSlot, DraftSource, LoadedContent, Watcher, FILES_VERSION};
use crate::service::{Accounting, CallerIdConfig, HoursMode, Service, ServiceOptions};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// SIP listen address (overrides `listen` from the config file).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// TOML configuration; built-in defaults when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// What answers the calls.
    #[arg(long, value_enum, default_value_t = AppKind::Conversation)]
    pub app: AppKind,
    /// Web console and /healthz: ADDR:PORT (default 127.0.0.1:8080), or `none`. Without
    /// `[console] cert`/`key` it is plain HTTP and binds to loopback only.
    #[arg(long, value_name = "ADDR:PORT|none")]
    pub http: Option<String>,
    #[command(flatten)]
    pub conversation: ConversationArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AppKind {
    /// Speech and keypad conversation: recognizer, matcher, dialogue, accounting.
    Conversation,
    /// The fixed telephony script (greeting, digits, playback): SIP tests without models.
    Script,
}

#[derive(Args, Debug)]
pub struct ConversationArgs {
    /// Knowledge directory.
    #[arg(long, default_value = "knowledge")]
    pub knowledge: PathBuf,
    /// Prompt texts; the rendered audio is read from `audio/` beside it.
    #[arg(long, default_value = "prompts/prompts.toml")]
    pub prompts: PathBuf,
    /// ggml Whisper model (default: $IVR_MODEL or models/cache/ggml-base-q8_0.bin).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Whisper workers (parallel utterances) and threads per worker.
    #[arg(long, default_value_t = 1)]
    pub asr_workers: usize,
    #[arg(long, default_value_t = 2)]
    pub asr_threads: usize,
    /// Utterances that may wait for a worker before the bot falls back to the keypad.
    #[arg(long, default_value_t = 8)]
    pub asr_queue: usize,
    /// Silence after the caller's question, while it is still being recognized, after which
    /// the bot says it is looking ("un petit instant"); 0 = never.
    #[arg(long, default_value_t = ivr_dialogue::conversation::SLOW_RECOGNITION.as_millis() as u64)]
    pub wait_prompt_after_ms: u64,
    /// Opening hours: the CCTP calendar, or forced open/closed.
    #[arg(long, value_enum, default_value_t = HoursMode::Calendar)]
    pub hours: HoursMode,
    /// Accounting database (`sqlite://path` or `postgres://…`); `none` records nothing.
    #[arg(long, default_value = ivr_accounting::DEFAULT_DB_URL)]
    pub db_url: String,
    /// Local spool that keeps the accounting batches while the database is unreachable
    /// (replayed in order when it is back); default: beside a SQLite file, else
    /// data/accounting-spool.jsonl; `none` to hold the batches in memory and retry instead.
    #[arg(long)]
    pub spool: Option<String>,
    /// Runtime switches (saturation, crisis, closed), read at every call start; a missing
    /// file means all off. Changed with `ivr switch set`.
    #[arg(long, default_value = ivr_dialogue::switches::DEFAULT_PATH)]
    pub switches: PathBuf,
}

/// How long a shutdown waits for the calls it ended, then for the accounting writer.
const DRAIN_CALLS: Duration = Duration::from_secs(5);
const DRAIN_ACCOUNTING: Duration = Duration::from_secs(10);

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let (mut cfg, tables) = match &args.config {
        Some(p) => load_config(p)?,
        None => (Config::default(), ServiceTables::default()),
    };
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    cfg.validate()?;
    let saturation = load_prompt(&cfg, &cfg.prompts.saturation);
    // The runtime's threads carry the media path (RTP, VAD, endpointing of every call):
    // raised above the rest of the host where permitted (see ivr_speech::priority). A
    // throw-away thread tells first whether raising is permitted at all.
    let media_raised = std::thread::spawn(|| ivr_speech::priority::adjust_this_thread(ivr_speech::priority::MEDIA_BOOST).is_ok()).join().unwrap_or(false);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            if media_raised {
                let _ = ivr_speech::priority::adjust_this_thread(ivr_speech::priority::MEDIA_BOOST);
            }
        })
        .build()?;
    let asr_nice = if media_raised {
        tracing::info!(
            nice = ivr_speech::priority::MEDIA_BOOST,
            asr_nice = ivr_speech::priority::ASR_BOOST,
            "media path threads raised above the host's other programs, recognition between them and the rest"
        );
        ivr_speech::priority::ASR_BOOST
    } else {
        tracing::warn!(
            asr_nice = ivr_speech::priority::FALLBACK_ASR_NICE,
            "cannot raise the media path's priority (needs CAP_SYS_NICE, see contrib/systemd/ivr.service): recognition runs lower instead, and other load on the host can slow it"
        );
        ivr_speech::priority::FALLBACK_ASR_NICE
    };
    rt.block_on(async move {
        // Installed before the port is announced: a signal from then on is a clean stop.
        let mut signals = StopSignals::install()?;
        let sip = tokio::net::UdpSocket::bind(cfg.listen).await.with_context(|| format!("binding SIP socket {}", cfg.listen))?;
        let bound = sip.local_addr()?;
        let ep_cfg = EndpointConfig::from_config(&cfg, bound.port(), saturation);
        let mut accounting_writer = None;
        let mut content_watch = None;
        let mut conv_service = None;
        let app: Arc<dyn Application> = match args.app {
            AppKind::Script => Arc::new(FixedScript {
                greeting: load_prompt(&cfg, &cfg.prompts.greeting).unwrap_or_else(|| {
                    tracing::warn!("no greeting prompt in {}: using a 1 s tone", cfg.prompts.dir.display());
                    Prompt::tone("greeting", 440.0, 1000, 6000)
                }),
                transfer: cfg.transfer.clone(),
                flow_header: cfg.flow_header.clone(),
                collect_for: Duration::from_secs(3),
            }),
            AppKind::Conversation => {
                let (service, writer, watcher) = conversation(&args.conversation, &cfg, &tables, asr_nice, bound.port()).await?;
                accounting_writer = writer;
                if let Some(watcher) = watcher {
                    content_watch = Some(tokio::spawn(watcher.run(Arc::clone(&service.content))));
                }
                let service = Arc::new(service);
                conv_service = Some(Arc::clone(&service));
                Arc::new(ConversationApp(service))
            }
        };
        let calls = InProgress::default();
        let app: Arc<dyn Application> = Arc::new(Tracked { inner: app, calls: calls.clone() });
        // The console shares the accounting database; the script app (SIP tests) has none.
        let console_db = (args.app == AppKind::Conversation && args.conversation.db_url != "none").then_some(args.conversation.db_url.as_str());
        let sip_up = Arc::new(AtomicBool::new(false));
        let console_acc = match console_db {
            Some(url) => tables.accounting(url)?,
            None => Default::default(),
        };
        let http = super::console::start_http(args.http.as_deref(), console_db, tables.console.clone(), sip_up.clone(), console_acc).await?;
        let telephony_stats = ivr_telephony::server::SharedStats::default();
        let supervision = match &conv_service {
            Some(service) => {
                let (sup, content) = (tables.supervision.as_ref(), tables.content.as_ref());
                crate::service::live::start_for_serve(console_db, sup, content, service, bound.port(), sip_up.clone(), telephony_stats.clone()).await?
            }
            None => None,
        };
        sip_up.store(true, Ordering::SeqCst);
        // Machine-readable line: tests and scripts read the bound port from it.
        println!("listening sip={bound} public={} rtp={}-{}", ep_cfg.public_ip, cfg.rtp_ports.min, cfg.rtp_ports.max);
        tracing::info!(%bound, max_calls = cfg.max_calls, "ivr serve ready");
        // The telephony loop keeps running while this future waits: the BYEs it asks for
        // are sent and the calls' hang-ups reach their tasks, which hand over their records.
        let shutdown = async {
            let name = signals.next().await;
            let ended = calls.end_all();
            tracing::info!(signal = name, calls_in_progress = ended, "shutting down: calls in progress (and any answered from now on) ended with a BYE");
            tokio::select! {
                left = calls.wait_empty(DRAIN_CALLS) => if left > 0 {
                    tracing::warn!(calls = left, "calls still in progress at shutdown: the day close counts them lost");
                },
                name = signals.next() => tracing::warn!(signal = name, calls = calls.len(), "second signal: not waiting for the calls in progress"),
            }
        };
        ivr_telephony::server::run_published(ep_cfg, sip, cfg.listen.ip(), app, shutdown, telephony_stats).await?;
        sip_up.store(false, Ordering::SeqCst);
        if let Some(w) = content_watch {
            w.abort();
        }
        if let Some(s) = supervision {
            s.stop().await;
        }
        // The last references to the service go before the flush: the accounting writer ends
        // with the last recorder clone.
        drop(conv_service);
        if let Some(http) = http {
            http.stop().await;
        }
        if let Some((recorder, writer, daily)) = accounting_writer {
            daily.stop().await;
            flush_accounting(recorder, writer).await;
        }
        tracing::info!("ivr serve stopped");
        Ok(())
    })
}

/// The tables of the `ivr serve` configuration file that are not telephony's.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ServiceTables {
    /// `[accounting]`: SC3.2 rule, day close time, retentions (transcripts, requests).
    accounting: Option<toml::Value>,
    /// `[caller_id]`: where the caller's number is read (P-Asserted-Identity trust).
    caller_id: Option<toml::Value>,
    /// `[console]`: TLS certificate, session and lockout settings of the web console.
    console: Option<toml::Value>,
    /// `[content]`: content versions' cache directory, poll interval, instance name.
    content: Option<toml::Value>,
    /// `[supervision]`: this instance's name on the supervisors' live view.
    supervision: Option<toml::Value>,
}

/// Reads the configuration file: `[accounting]` and `[caller_id]` for the service, the
/// rest for telephony (which refuses keys it does not know, so typos are caught).
fn load_config(path: &std::path::Path) -> anyhow::Result<(Config, ServiceTables)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut table: toml::Table = toml::from_str(&text).with_context(|| format!("invalid configuration {}", path.display()))?;
    let tables = ServiceTables {
        accounting: table.remove("accounting"),
        caller_id: table.remove("caller_id"),
        console: table.remove("console"),
        content: table.remove("content"),
        supervision: table.remove("supervision"),
    };
    let rest = toml::to_string(&table).context("re-writing the telephony tables")?;
    let cfg = Config::parse(&rest).with_context(|| format!("invalid configuration {}", path.display()))?;
    Ok((cfg, tables))
}

impl ServiceTables {
    fn accounting(&self, db_url: &str) -> anyhow::Result<ivr_accounting::AccountingConfig> {
        let mut cfg: ivr_accounting::AccountingConfig = match &self.accounting {
            Some(v) => v.clone().try_into().context("invalid [accounting] configuration")?,
            None => Default::default(),
        };
        cfg.db_url = db_url.to_string();
        Ok(cfg)
    }

    fn content(&self) -> anyhow::Result<ContentConfig> {
        match &self.content {
            Some(v) => v.clone().try_into().context("invalid [content] configuration"),
            None => Ok(Default::default()),
        }
    }

    fn caller_id(&self) -> anyhow::Result<CallerIdConfig> {
        let c: CallerIdConfig = match &self.caller_id {
            Some(v) => v.clone().try_into().context("invalid [caller_id] configuration")?,
            None => Default::default(),
        };
        c.validate()?;
        Ok(c)
    }
}

/// The accounting's daily job (day close, then retention purges: transcripts, pseudonym
/// keys, procedure requests), stopped with the server.
struct DailyJob {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl DailyJob {
    fn start(store: ivr_accounting::Store, cfg: ivr_accounting::AccountingConfig) -> DailyJob {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(ivr_accounting::days::run_daily(store, cfg, async move {
            let _ = stopped.await;
        }));
        DailyJob { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(DRAIN_ACCOUNTING, self.task).await;
    }
}

/// SIGINT (Ctrl-C) and SIGTERM (service managers) both stop the service.
struct StopSignals {
    int: Signal,
    term: Signal,
}

impl StopSignals {
    fn install() -> anyhow::Result<StopSignals> {
        Ok(StopSignals {
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

/// Commits everything the calls handed to the recorder, then lets the writer close the
/// database. A record handed over before this point is on disk when the process exits.
async fn flush_accounting(recorder: ivr_accounting::Recorder, writer: ivr_accounting::Writer) {
    match tokio::time::timeout(DRAIN_ACCOUNTING, recorder.flush()).await {
        Ok(Ok(())) => tracing::info!("accounting flushed"),
        Ok(Err(e)) => tracing::error!(error = %e, "accounting not flushed"),
        Err(_) => tracing::error!(after_s = DRAIN_ACCOUNTING.as_secs(), "accounting flush timed out: the last records may be missing"),
    }
    drop(recorder);
    // The writer ends once the last recorder clone (held by the call tasks' service) is gone.
    if tokio::time::timeout(DRAIN_ACCOUNTING, writer.join()).await.is_err() {
        tracing::warn!("accounting writer still open at exit (its items are already committed)");
    }
}

/// The calls in progress, by Call-ID, with the commander that can end each one.
#[derive(Clone, Default)]
struct InProgress {
    calls: Arc<Mutex<HashMap<String, CallCommander>>>,
    stopping: Arc<AtomicBool>,
}

impl InProgress {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CallCommander>> {
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// From now on every call is hung up as soon as it starts; the ones in progress are
    /// hung up now. Returns how many were.
    fn end_all(&self) -> usize {
        self.stopping.store(true, Ordering::SeqCst);
        let calls = self.lock();
        for commander in calls.values() {
            commander.send(CallCommand::Hangup);
        }
        calls.len()
    }

    /// Waits until no call is left or `within` has passed; returns how many are left.
    async fn wait_empty(&self, within: Duration) -> usize {
        let end = tokio::time::Instant::now() + within;
        loop {
            let left = self.len();
            if left == 0 || tokio::time::Instant::now() >= end {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The application wrapped so that shutdown knows the calls in progress: each call's
/// events pass through a relay task that removes the call once its own task has finished
/// (after its hang-up, so after its record was handed to the recorder).
struct Tracked {
    inner: Arc<dyn Application>,
    calls: InProgress,
}

impl Application for Tracked {
    fn on_call(&self, mut call: CallHandle) {
        let (tx, rx) = mpsc::unbounded_channel();
        let from_server = std::mem::replace(&mut call.events, rx);
        let id = call.call_id.clone();
        self.calls.lock().insert(id.clone(), call.commands.clone());
        if self.calls.stopping.load(Ordering::SeqCst) {
            // Answered by the endpoint during shutdown: ended at once (and recorded as such).
            call.commands.send(CallCommand::Hangup);
        }
        tokio::spawn(relay(from_server, tx, id, self.calls.clone()));
        self.inner.on_call(call);
    }
}

async fn relay(
    mut from_server: mpsc::UnboundedReceiver<ivr_telephony::app::CallEvent>,
    to_call: mpsc::UnboundedSender<ivr_telephony::app::CallEvent>,
    id: String,
    calls: InProgress,
) {
    while let Some(event) = from_server.recv().await {
        if to_call.send(event).is_err() {
            break;
        }
    }
    // The server dropped the call (after its hang-up): wait for the call's task to finish.
    to_call.closed().await;
    calls.lock().remove(&id);
}

/// Builds the conversation service: models and content load before the port is announced,
/// so the first call is answered at full speed.
/// Also returns a recorder clone and the writer, for the flush at shutdown, and with a
/// database the watcher that follows the content publications.
async fn conversation(
    a: &ConversationArgs,
    cfg: &Config,
    tables: &ServiceTables,
    asr_nice: i32,
    sip_port: u16,
) -> anyhow::Result<(Service, Option<(ivr_accounting::Recorder, ivr_accounting::Writer, DailyJob)>, Option<Watcher>)> {
    let mut writer = None;
    let mut content_store = None;
    let content_cfg = tables.content()?;
    let caller_id = tables.caller_id()?;
    let accounting = if a.db_url == "none" {
        None
    } else {
        if let Some(path) = a.db_url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
        }
        let store = ivr_accounting::Store::connect(&a.db_url).await.context("opening the accounting database")?;
        let acc_cfg = tables.accounting(&a.db_url)?;
        let spool = match a.spool.as_deref() {
            Some("none") => None,
            Some(p) => Some(PathBuf::from(p)),
            None => Some(match a.db_url.strip_prefix("sqlite://").or_else(|| a.db_url.strip_prefix("sqlite:")) {
                Some(path) => PathBuf::from(format!("{}.spool.jsonl", path.split('?').next().unwrap_or(path))),
                None => PathBuf::from("data/accounting-spool.jsonl"),
            }),
        };
        let (recorder, w) = ivr_accounting::Recorder::start_spooled(store.clone(), ivr_accounting::BatchPolicy::default(), spool)?;
        content_store = Some(store.clone());
        let daily = DailyJob::start(store.clone(), acc_cfg);
        writer = Some((recorder.clone(), w, daily));
        Some(Accounting { recorder, pseudonyms: ivr_accounting::Pseudonymizer::new(store) })
    };
    let prompts_dir = a.prompts.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    let audio_dir = prompts_dir.join("audio");
    let base = crate::service::base_dialogue(&cfg.transfer);
    // With a database the published version runs (the repository's files become version 1
    // when none is); without one, the files as they are.
    let mut draft = None;
    let (initial, watcher) = match content_store {
        Some(store) => {
            let cache = ContentCache::new(content_cfg.dir_for(&a.db_url), audio_dir.clone(), prompts_dir.join("studio"));
            let (id, snap) = crate::service::content::published_or_import(&store, &a.knowledge, &a.prompts).await?;
            let (c, b) = (cache.clone(), base.clone());
            let loaded = tokio::task::spawn_blocking(move || c.load(id, &snap, b)).await?.with_context(|| format!("loading content version {id}"))?;
            draft = Some(DraftSource::new(content_cfg.draft_user.clone(), store.clone(), cache.clone(), base.clone()));
            let watcher =
                Watcher { store, cache, base, instance: content_cfg.instance_name(sip_port), poll: Duration::from_millis(content_cfg.poll_ms.max(100)) };
            watcher.report(id, true, String::new()).await;
            tracing::info!(version = id, instance = %watcher.instance, "content version loaded");
            (loaded, Some(watcher))
        }
        None => {
            let (k, p) = (a.knowledge.clone(), a.prompts.clone());
            let loaded = tokio::task::spawn_blocking(move || LoadedContent::load(FILES_VERSION, &k, &p, &audio_dir, base)).await??;
            (loaded, None)
        }
    };
    let slot = Arc::new(ContentSlot::new(initial, crate::service::content::version_gauge()));
    let opts = ServiceOptions {
        model: a.model.clone().unwrap_or_else(ivr_speech::model::default_model_path),
        asr_workers: a.asr_workers,
        asr_threads: a.asr_threads,
        asr_queue: a.asr_queue,
        asr_nice,
        wait_prompt_after: (a.wait_prompt_after_ms > 0).then(|| Duration::from_millis(a.wait_prompt_after_ms)),
        hours: a.hours,
        flow_header: cfg.flow_header.clone(),
        switches: a.switches.clone(),
        caller_id,
    };
    // Loading the model and building the index take seconds of CPU: off the runtime.
    let mut service = tokio::task::spawn_blocking(move || Service::build(opts, accounting, slot)).await??;
    service.draft = draft;
    Ok((service, writer, watcher))
}

fn load_prompt(cfg: &Config, id: &str) -> Option<Arc<Prompt>> {
    let path = cfg.prompts.dir.join(format!("{id}.wav"));
    if !path.exists() {
        return None;
    }
    match Prompt::from_wav(id, &path) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(error = %e, "prompt not usable");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_gives_every_table_to_its_reader() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ivr.example.toml");
        let (cfg, tables) = load_config(&path).unwrap();
        assert!(cfg.transfer.contains_key("2"));
        let acc = tables.accounting("sqlite://x.sqlite").unwrap();
        assert_eq!((acc.requests.handled_days, acc.requests.max_days), (30, 90));
        assert_eq!(acc.db_url, "sqlite://x.sqlite");
        assert_eq!(tables.caller_id().unwrap().trust_pai_from, vec!["*".to_string()]);
        let content = tables.content().unwrap();
        assert_eq!((content.poll_ms, content.draft_user.as_str()), (2000, "brouillon"));
    }

    #[test]
    fn a_typo_in_any_table_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ivr.toml");
        std::fs::write(&path, "max_calls = 10\n[caller_id]\ntrust_pai = [\"*\"]\n").unwrap();
        let (_, tables) = load_config(&path).unwrap();
        assert!(tables.caller_id().is_err());
        std::fs::write(&path, "max_call = 10\n").unwrap();
        assert!(load_config(&path).is_err());
        std::fs::write(&path, "[accounting.requests]\nhandled = 3\n").unwrap();
        let (_, tables) = load_config(&path).unwrap();
        assert!(tables.accounting("sqlite://x").is_err());
    }
}
