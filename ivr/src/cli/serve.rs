//! `ivr serve`: load the configuration, bind the SIP socket, run the telephony
//! shell with the fixed call script until Ctrl-C.

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

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// SIP listen address (overrides `listen` from the config file).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// TOML configuration; built-in defaults when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
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
    let greeting = load_prompt(&cfg, &cfg.prompts.greeting).unwrap_or_else(|| {
        tracing::warn!("no greeting prompt in {}: using a 1 s tone", cfg.prompts.dir.display());
        Prompt::tone("greeting", 440.0, 1000, 6000)
    });
    let saturation = load_prompt(&cfg, &cfg.prompts.saturation);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let sip = tokio::net::UdpSocket::bind(cfg.listen).await.with_context(|| format!("binding SIP socket {}", cfg.listen))?;
        let bound = sip.local_addr()?;
        let ep_cfg = EndpointConfig::from_config(&cfg, bound.port(), saturation);
        // Machine-readable line: tests and scripts read the bound port from it.
        println!("listening sip={bound} public={} rtp={}-{}", ep_cfg.public_ip, cfg.rtp_ports.min, cfg.rtp_ports.max);
        tracing::info!(%bound, max_calls = cfg.max_calls, "ivr serve ready");
        let app = Arc::new(FixedScript {
            greeting,
            transfer: cfg.transfer.clone(),
            flow_header: cfg.flow_header.clone(),
            collect_for: Duration::from_secs(3),
        });
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        ivr_telephony::server::run(ep_cfg, sip, cfg.listen.ip(), app, shutdown).await?;
        Ok(())
    })
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
