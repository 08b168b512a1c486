//! `ivr serve`: load the configuration, bind the SIP socket, run the telephony
//! shell with the conversation (or the fixed call script, `--app script`) until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ivr_telephony::config::Config;
use ivr_telephony::endpoint::EndpointConfig;
use ivr_telephony::media::prompt::Prompt;
use ivr_telephony::script::FixedScript;
use ivr_telephony::server::Application;

use crate::service::call::ConversationApp;
use crate::service::{HoursMode, Service, ServiceOptions};

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
    /// Opening hours: the CCTP calendar, or forced open/closed.
    #[arg(long, value_enum, default_value_t = HoursMode::Calendar)]
    pub hours: HoursMode,
    /// Accounting database (`sqlite://path` or `postgres://…`); `none` records nothing.
    #[arg(long, default_value = ivr_accounting::DEFAULT_DB_URL)]
    pub db_url: String,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    cfg.validate()?;
    let saturation = load_prompt(&cfg, &cfg.prompts.saturation);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let sip = tokio::net::UdpSocket::bind(cfg.listen).await.with_context(|| format!("binding SIP socket {}", cfg.listen))?;
        let bound = sip.local_addr()?;
        let ep_cfg = EndpointConfig::from_config(&cfg, bound.port(), saturation);
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
            AppKind::Conversation => Arc::new(ConversationApp(Arc::new(conversation(&args.conversation, &cfg).await?))),
        };
        // Machine-readable line: tests and scripts read the bound port from it.
        println!("listening sip={bound} public={} rtp={}-{}", ep_cfg.public_ip, cfg.rtp_ports.min, cfg.rtp_ports.max);
        tracing::info!(%bound, max_calls = cfg.max_calls, "ivr serve ready");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        ivr_telephony::server::run(ep_cfg, sip, cfg.listen.ip(), app, shutdown).await?;
        Ok(())
    })
}

/// Builds the conversation service: models and content load before the port is announced,
/// so the first call is answered at full speed.
async fn conversation(a: &ConversationArgs, cfg: &Config) -> anyhow::Result<Service> {
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
        let (recorder, _writer) = ivr_accounting::Recorder::start(store.clone(), ivr_accounting::BatchPolicy::default())?;
        Some((recorder, ivr_accounting::Pseudonymizer::new(store)))
    };
    let audio_dir = a.prompts.parent().map(|p| p.join("audio")).unwrap_or_else(|| PathBuf::from("audio"));
    let opts = ServiceOptions {
        knowledge: a.knowledge.clone(),
        prompts_file: a.prompts.clone(),
        audio_dir,
        model: a.model.clone().unwrap_or_else(ivr_speech::model::default_model_path),
        asr_workers: a.asr_workers,
        asr_threads: a.asr_threads,
        asr_queue: a.asr_queue,
        hours: a.hours,
        flow_header: cfg.flow_header.clone(),
        transfer: cfg.transfer.clone(),
    };
    // Loading the model and building the index take seconds of CPU: off the runtime.
    tokio::task::spawn_blocking(move || Service::build(opts, accounting)).await?
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
