//! `ivr bench call`: end of the caller's speech → first audio of the answer, as a caller
//! hears it, with 1 and with N callers talking at the same time.
//!
//! The benchmark renders its own spoken questions with the prompt voice (SVOX Pico, 8 kHz),
//! starts `ivr serve` as a child (the real recognizer pool, VAD, matcher, rendered prompts
//! and SQLite accounting), and runs callers written in Rust: each caller sends G.711 A-law
//! RTP every 20 ms (silence, then the question once the greeting has ended, then silence),
//! notes the instant its last voiced frame was actually sent and the instant the first
//! voiced packet of the bot's reply arrived, then hangs up. The server's per-call log says
//! which clip that reply was, so only real answers count and wrong topics are reported.
//!
//! Nothing is dropped from the figures: a question with no answer (timed out, refused,
//! hung up, or a reply that is not an answer) is a failure, counted in its column and in
//! the percentiles as an infinite latency ("fail"). A sample where the bot was still
//! sending voice when the caller stopped speaking is invalid (the "reply" could be the
//! prompt it was still playing): reported with its cause, left out of the latencies.
//! The barge-in figure is measured at the RTP level: from the caller's first voiced frame
//! sent over the greeting to the last voiced packet of the bot's greeting, not from the
//! server's own VAD decision.
//!
//! Baseline, in the same process before the server starts: Whisper alone on the same
//! audio with the same threads. The ratio latency / ASR says what the rest of the chain
//! (endpoint wait, queueing, matcher, playback start, network) adds.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::server_child::ServerChild;
use clap::Args;
use ivr_telephony::rtp::g711::{alaw_to_linear, linear_to_alaw};
use tokio::net::UdpSocket;

/// Questions written for this benchmark (none from the evaluation sets), with the topic
/// that should answer them.
const QUESTIONS: &[(&str, &str)] = &[
    ("numero-allocataire-oublie", "Je ne retrouve plus mon numéro d'allocataire."),
    ("prime-activite", "Est-ce que j'ai droit à la prime d'activité en travaillant à mi-temps ?"),
    ("allocation-rentree-scolaire", "Quand est versée l'allocation de rentrée scolaire pour mon fils qui entre au collège ?"),
    ("changer-adresse", "Je déménage le mois prochain, comment je signale ma nouvelle adresse ?"),
    ("garde-enfant-cmg", "Quelle aide pour payer l'assistante maternelle qui garde ma fille ?"),
    ("prendre-rendez-vous", "Comment je peux obtenir un rendez-vous à la caf ?"),
    ("declaration-trimestrielle", "Comment je remplis ma déclaration trimestrielle de ressources ?"),
    ("aide-logement", "Est-ce que je peux être aidé pour payer le loyer de mon appartement ?"),
    ("application-mobile", "L'application de la caf ne s'ouvre plus sur mon téléphone."),
    ("attestation-quotient-familial", "Pour l'inscription à la crèche il me faut un papier avec mon quotient familial."),
    ("rsa", "Je n'ai plus de revenus, est-ce que je peux demander le RSA ?"),
    ("trop-percu-indu", "J'ai reçu un courrier qui dit que je dois rembourser un trop perçu."),
];

#[derive(Args, Debug)]
pub struct CallBenchArgs {
    /// Numbers of callers talking at the same time, one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub callers: Vec<usize>,
    /// Questions asked at each level (spread over its callers, at least 2 each).
    #[arg(long, default_value_t = 12)]
    pub questions: usize,
    /// Whisper workers and threads per worker of the server (as `ivr serve`).
    #[arg(long, default_value_t = 1)]
    pub asr_workers: usize,
    #[arg(long, default_value_t = 2)]
    pub asr_threads: usize,
    /// ggml Whisper model (default: the one `ivr serve` uses).
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long, default_value = "knowledge")]
    pub knowledge: PathBuf,
    #[arg(long, default_value = "prompts/prompts.toml")]
    pub prompts: PathBuf,
    /// The p95 a level must keep to count as held.
    #[arg(long, default_value_t = 2500)]
    pub hold_p95_ms: u64,
    /// Skip the in-process Whisper baseline.
    #[arg(long)]
    pub no_baseline: bool,
    /// Wait for the greeting to end before speaking (default: speak over it 1.5 s after it
    /// starts, as callers who know the line do; the bot stops it on the barge-in).
    #[arg(long)]
    pub wait_greeting: bool,
    /// Keep the server's log here instead of a temporary directory.
    #[arg(long)]
    pub log: Option<PathBuf>,
}

/// A rendered question: 8 kHz samples and where the speech ends.
struct Question {
    slug: &'static str,
    flow: u8,
    pcm: Vec<i16>,
    speech_end_ms: u64,
}

/// What one caller measured on one call.
#[derive(Debug, Clone, Default)]
struct CallOutcome {
    call_id: String,
    slug: &'static str,
    /// ACK → first RTP packet of the greeting.
    first_audio_ms: Option<f64>,
    /// End of the caller's speech → first voiced packet of the bot's reply.
    reply_ms: Option<f64>,
    /// |gap − 20 ms| between consecutive packets of the bot's audio, in ms: whether
    /// recognition running for other callers disturbs playback.
    jitter_ms: Vec<f64>,
    /// Caller's first voiced frame sent over the greeting → the bot's last voiced greeting
    /// packet received (+20 ms): how fast the bot stopped talking on a barge-in.
    barge_in_stop_ms: Option<f64>,
    /// Why the sample cannot be measured (the bot was not silent when the caller stopped).
    invalid: Option<String>,
    error: Option<String>,
}

/// How long before the end of the caller's speech the bot must have sent no voice for the
/// sample to be valid.
const SILENT_BEFORE_END: Duration = Duration::from_millis(100);

/// Frame energy (RMS of 16-bit samples) above which a 20 ms frame is sound, not silence.
const VOICED_RMS: f64 = 300.0;
/// Silence from the bot that means its greeting is over.
const GREETING_GAP: Duration = Duration::from_millis(1200);
/// When not waiting for its end, the caller starts speaking this long into the greeting.
const BARGE_IN_AFTER: Duration = Duration::from_millis(1500);
/// How long a caller waits for the reply before giving up.
const REPLY_LIMIT: Duration = Duration::from_secs(25);

pub fn run(args: CallBenchArgs) -> anyhow::Result<()> {
    let kb = nlu::knowledge::KnowledgeBase::load(&args.knowledge).with_context(|| format!("loading {}", args.knowledge.display()))?;
    let flows: BTreeMap<String, u8> = kb.topics.iter().map(|t| (t.topic.slug.clone(), t.topic.flow)).collect();
    let voice = ivr_dialogue::tts::default_voice().context("a French voice to speak the questions")?;
    let mut questions = Vec::new();
    for (slug, text) in QUESTIONS {
        // A little slower than the voice's default, as callers speak to a machine.
        let pcm = voice.synthesize(&format!("<speed level=\"85\">{text}</speed>")).with_context(|| format!("speaking {slug}"))?;
        let pcm = ivr_dialogue::audio::resample(&pcm, 8000)?;
        let speech_end_ms = speech_end_ms(&pcm.samples);
        let flow = *flows.get(*slug).with_context(|| format!("{slug} is not a topic of {}", args.knowledge.display()))?;
        questions.push(Question { slug, flow, pcm: pcm.samples, speech_end_ms });
    }
    let model = args.model.clone().unwrap_or_else(ivr_speech::model::default_model_path);
    println!(
        "call bench: {} questions, model {}, server ASR {} worker(s) × {} thread(s), {} CPU(s)",
        questions.len(),
        model.display(),
        args.asr_workers,
        args.asr_threads,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );

    let baseline = if args.no_baseline { None } else { Some(asr_baseline(&model, args.asr_threads, &questions)?) };
    if let Some(b) = &baseline {
        println!(
            "  baseline (this process, Whisper alone on the same audio): p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
            pct(b, 0.5),
            pct(b, 0.95),
            pct(b, 1.0)
        );
    }

    let dir = std::env::temp_dir().join(format!("ivr-bench-call-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let log = args.log.clone().unwrap_or_else(|| dir.join("server.log"));
    let levels: Vec<usize> = args.callers.iter().copied().filter(|n| *n > 0).collect();
    let max_callers = levels.iter().copied().max().unwrap_or(1);
    let mut server = start_server(&args, &model, &dir, &log, max_callers)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let mut rows = Vec::new();
    for (li, &n) in levels.iter().enumerate() {
        let per_caller = args.questions.div_ceil(n).max(2);
        let started = Instant::now();
        let outcomes = rt.block_on(level(server.addr, n, per_caller, li, &questions, args.wait_greeting));
        let wall = started.elapsed();
        rows.push((n, outcomes, wall));
    }
    drop(rt);
    server.stop();
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);

    println!("  callers  calls  answered  right topic  failed  invalid  reply p50  reply p95  max      server p50  of it ASR  greeting first packet p50  bot RTP jitter p99  barge-in stop p50");
    println!("  (failed = no answer, timed out, refused or not an answer: counted in the percentiles as 'fail'; invalid = the bot was still talking when the caller stopped, left out)");
    let mut held = 0;
    let mut one_caller_p50 = None;
    for (n, outcomes, wall) in &rows {
        let mut lat = Vec::new();
        let mut server_lat = Vec::new();
        let mut asr = Vec::new();
        let mut first = Vec::new();
        let mut jitter: Vec<f64> = outcomes.iter().flat_map(|o| o.jitter_ms.iter().copied()).collect();
        sort(&mut jitter);
        let (mut answered, mut right, mut failed, mut invalid) = (0, 0, 0, 0);
        let mut barge = Vec::new();
        let mut problems = Vec::new();
        for o in outcomes {
            if let Some(f) = o.first_audio_ms {
                first.push(f);
            }
            barge.extend(o.barge_in_stop_ms);
            let call_log: Vec<&str> = log_text.lines().filter(|l| l.contains(&o.call_id)).collect();
            // The reply is the first clip the bot played once the question was recognized.
            let reply_clip = call_log
                .iter()
                .skip_while(|l| !l.contains(" recognized "))
                .find_map(|l| l.split("play key=").nth(1))
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("");
            if let Some(e) = &o.error {
                problems.push(format!("{}: failed: {e}", o.slug));
                failed += 1;
                lat.push(f64::INFINITY);
                continue;
            }
            if let Some(why) = &o.invalid {
                problems.push(format!("{}: invalid sample: {why}", o.slug));
                invalid += 1;
                continue;
            }
            let Some(ms) = o.reply_ms else {
                problems.push(format!("{}: failed: no reply measured", o.slug));
                failed += 1;
                lat.push(f64::INFINITY);
                continue;
            };
            match reply_clip.strip_prefix("answer/") {
                Some(slug) => {
                    answered += 1;
                    lat.push(ms);
                    if slug == o.slug {
                        right += 1;
                    } else {
                        problems.push(format!("{}: answered {slug}", o.slug));
                    }
                    let field = |name: &str| {
                        call_log
                            .iter()
                            .filter(|l| l.contains("answer latency"))
                            .find_map(|l| l.split(name).nth(1))
                            .and_then(|r| r.split_whitespace().next())
                            .and_then(|v| v.parse::<f64>().ok())
                    };
                    server_lat.extend(field("latency_ms="));
                    asr.extend(field("asr_ms="));
                }
                None => {
                    problems.push(format!("{}: failed: the reply was {reply_clip:?}, not an answer", o.slug));
                    failed += 1;
                    lat.push(f64::INFINITY);
                }
            }
        }
        sort(&mut lat);
        sort(&mut server_lat);
        sort(&mut asr);
        sort(&mut first);
        sort(&mut barge);
        let p95 = pct(&lat, 0.95);
        if !lat.is_empty() && p95 <= args.hold_p95_ms as f64 && answered * 10 >= outcomes.len() * 8 && invalid * 2 < outcomes.len() {
            held = held.max(*n);
        }
        if *n == 1 {
            one_caller_p50 = Some(pct(&lat, 0.5));
        }
        println!(
            "  {:>7}  {:>5}  {:>8}  {:>11}  {:>6}  {:>7}  {:>7} ms {:>7} ms {:>6} ms {:>8.0} ms {:>7.0} ms  {:>6.0} ms {:>20.1} ms  {:>12} ms  ({:.0} s)",
            n,
            outcomes.len(),
            answered,
            right,
            failed,
            invalid,
            ms_or_fail(pct(&lat, 0.5)),
            ms_or_fail(p95),
            ms_or_fail(pct(&lat, 1.0)),
            pct(&server_lat, 0.5),
            pct(&asr, 0.5),
            pct(&first, 0.5),
            pct(&jitter, 0.99),
            if barge.is_empty() { "-".to_string() } else { format!("{:.0}", pct(&barge, 0.5)) },
            wall.as_secs_f64()
        );
        for p in problems {
            println!("           - {p}");
        }
    }
    if let (Some(b), Some(p50)) = (&baseline, one_caller_p50) {
        if !b.is_empty() && p50 > 0.0 {
            println!("  ratio reply p50 at 1 caller / Whisper-alone p50: {:.2}", p50 / pct(b, 0.5));
        }
    }
    println!("  callers held at p95 ≤ {} ms: {held} (of levels {:?})", args.hold_p95_ms, levels);
    println!("  aims on 2 cores: p50 ≤ 1200 ms and p95 ≤ 1800 ms at 1 caller");
    if args.log.is_some() {
        println!("  server log: {}", log.display());
    }
    Ok(())
}

/// A latency in ms, or "fail" when the percentile falls on a failed question.
fn ms_or_fail(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.0}")
    } else {
        "fail".to_string()
    }
}

fn sort(v: &mut [f64]) {
    v.sort_by(|a, b| a.total_cmp(b));
}

/// Percentile of sorted values (0 when empty).
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rms(frame: &[i16]) -> f64 {
    if frame.is_empty() {
        return 0.0;
    }
    (frame.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / frame.len() as f64).sqrt()
}

/// End of the last voiced 20 ms frame, in ms from the start of `pcm` (8 kHz).
fn speech_end_ms(pcm: &[i16]) -> u64 {
    let last = pcm.chunks(160).enumerate().filter(|(_, f)| rms(f) >= VOICED_RMS).map(|(i, _)| i).next_back().unwrap_or(0);
    (last as u64 + 1) * 20
}

/// Whisper alone on each question (200 ms before and after the speech, as the server
/// cuts it), sorted times in ms.
fn asr_baseline(model: &Path, threads: usize, questions: &[Question]) -> anyhow::Result<Vec<f64>> {
    let config = ivr_speech::asr::recognizer::AsrConfig { threads: threads.max(1), ..Default::default() };
    let recognizer = ivr_speech::asr::recognizer::Recognizer::load(model, config).with_context(|| format!("loading {}", model.display()))?;
    let mut worker = recognizer.worker()?;
    let mut times = Vec::new();
    for q in questions {
        let mut pcm: Vec<f32> = vec![0.0; 1600];
        let end = ((q.speech_end_ms + 200) as usize * 8).min(q.pcm.len());
        pcm.extend(q.pcm[..end].iter().map(|s| f32::from(*s) / 32768.0));
        let pcm16 = ivr_speech::audio::resample::resample(&pcm, 8000, 16000)?;
        let t = Instant::now();
        let text = worker.transcribe(&pcm16)?.text;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        tracing::debug!(slug = q.slug, %text, "baseline transcript");
    }
    sort(&mut times);
    Ok(times)
}

fn start_server(args: &CallBenchArgs, model: &Path, dir: &Path, log: &Path, callers: usize) -> anyhow::Result<ServerChild> {
    let max = callers * 2 + 10;
    let port_base = 42_000 + (std::process::id() % 1000) as usize * 8;
    let cfg = dir.join("ivr.toml");
    std::fs::write(
        &cfg,
        format!(
            "public_address = \"127.0.0.1\"\nmax_calls = {max}\n[transfer]\n2 = \"sip:agents-choix2@127.0.0.1\"\n3 = \"sip:agents-choix3@127.0.0.1\"\n[rtp_ports]\nmin = {port_base}\nmax = {}\n",
            port_base + 2 * max + 2
        ),
    )?;
    let log_file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut cmd = ServerChild::command()?;
    cmd.args(["--listen", "127.0.0.1:0", "--hours", "always-open", "--config"])
        .arg(&cfg)
        .arg("--knowledge")
        .arg(&args.knowledge)
        .arg("--prompts")
        .arg(&args.prompts)
        .arg("--model")
        .arg(model)
        .args(["--asr-workers", &args.asr_workers.to_string(), "--asr-threads", &args.asr_threads.to_string()])
        // The answer cuts the "un petit instant" notice as soon as it is ready, so the notice
        // does not change when the answer starts; off, so the first sound a caller hears
        // after speaking is the answer this benchmark times.
        .args(["--wait-prompt-after-ms", "0"])
        .arg("--db-url")
        .arg(format!("sqlite://{}", dir.join("bench.sqlite").display()))
        // The bench reads the server's info lines; IVR_BENCH_SERVER_LOG adds more (debug).
        .env("IVR_LOG", std::env::var("IVR_BENCH_SERVER_LOG").unwrap_or_else(|_| "info,tantivy=warn".into()))
        .env("NO_COLOR", "1")
        .stderr(Stdio::from(log_file));
    ServerChild::spawn(cmd).with_context(|| format!("its log: {}", log.display()))
}

/// A question as the callers carry it: topic, flow, 8 kHz samples, speech end in ms.
type Spoken = (&'static str, u8, Vec<i16>, u64);

/// `n` callers, each asking `per_caller` questions one call after another, started
/// 1.7 s apart so their questions do not all land on the same instant.
async fn level(server: SocketAddr, n: usize, per_caller: usize, level_index: usize, questions: &[Question], wait_greeting: bool) -> Vec<CallOutcome> {
    let questions: std::sync::Arc<Vec<Spoken>> = std::sync::Arc::new(questions.iter().map(|q| (q.slug, q.flow, q.pcm.clone(), q.speech_end_ms)).collect());
    let mut tasks = Vec::new();
    for c in 0..n {
        let questions = std::sync::Arc::clone(&questions);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1700 * c as u64)).await;
            let mut out = Vec::new();
            for k in 0..per_caller {
                let qi = (c * per_caller + k + level_index * 5) % questions.len();
                let (slug, flow, pcm, end_ms) = &questions[qi];
                let call_id = format!("bench-call-{level_index}-{c}-{k}-{}", std::process::id());
                let outcome = one_call(server, &call_id, slug, *flow, pcm, *end_ms, wait_greeting).await;
                out.push(outcome);
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        if let Ok(v) = t.await {
            all.extend(v);
        }
    }
    all
}

/// Where the caller is in its call.
enum Phase {
    Greeting { first_voiced: Option<tokio::time::Instant>, last_voiced: Option<tokio::time::Instant> },
    Speaking { frame: usize },
    Waiting,
}

async fn one_call(server: SocketAddr, call_id: &str, slug: &'static str, flow: u8, pcm: &[i16], speech_end_ms: u64, wait_greeting: bool) -> CallOutcome {
    let mut outcome = CallOutcome { call_id: call_id.to_string(), slug, ..Default::default() };
    match talk(server, call_id, flow, pcm, speech_end_ms, wait_greeting, &mut outcome).await {
        Ok(()) => {}
        Err(e) => outcome.error = Some(e),
    }
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn talk(
    server: SocketAddr,
    call_id: &str,
    flow: u8,
    pcm: &[i16],
    speech_end_ms: u64,
    wait_greeting: bool,
    outcome: &mut CallOutcome,
) -> Result<(), String> {
    let sip = UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let rtp = UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let sip_addr = sip.local_addr().map_err(|e| e.to_string())?;
    let rtp_addr = rtp.local_addr().map_err(|e| e.to_string())?;
    let sdp = format!("v=0\r\no=bench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n", rtp_addr.port());
    let head = |method: &str, cseq: u32, to_tag: &str| {
        format!(
            "{method} sip:3230@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {sip_addr};branch=z9hG4bK{method}{cseq}{call_id}\r\nFrom: <sip:0612345678@{sip_addr}>;tag=bench\r\nTo: <sip:3230@{server}>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:0612345678@{sip_addr}>\r\nMax-Forwards: 70\r\nX-Flow: {flow}\r\n"
        )
    };
    let invite = format!("{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}", head("INVITE", 1, ""), sdp.len());
    sip.send_to(invite.as_bytes(), server).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    let (to_tag, media) = loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), sip.recv_from(&mut buf))
            .await
            .map_err(|_| "no answer to INVITE".to_string())?
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if text.starts_with("SIP/2.0 200") {
            let tag =
                text.lines().find(|l| l.starts_with("To:")).and_then(|l| l.split(";tag=").nth(1)).map(|t| t.trim().to_string()).ok_or("200 without To tag")?;
            let port = text
                .lines()
                .find_map(|l| l.strip_prefix("m=audio "))
                .and_then(|r| r.split_whitespace().next())
                .and_then(|p| p.parse::<u16>().ok())
                .ok_or("200 without media port")?;
            break (tag, SocketAddr::new(server.ip(), port));
        } else if !text.starts_with("SIP/2.0 1") {
            return Err(format!("INVITE refused: {}", text.lines().next().unwrap_or("")));
        }
    };
    let tag = format!(";tag={to_tag}");
    sip.send_to(format!("{}Content-Length: 0\r\n\r\n", head("ACK", 1, &tag)).as_bytes(), server).await.map_err(|e| e.to_string())?;
    let acked = tokio::time::Instant::now();
    let mut phase = Phase::Greeting { first_voiced: None, last_voiced: None };
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (mut seq, mut ts) = (0u16, 0u32);
    let mut speech_end: Option<tokio::time::Instant> = None;
    let silence = [0i16; 160];
    let give_up = acked + Duration::from_secs(60);
    let mut sbuf = vec![0u8; 4096];
    let mut last_rx: Option<tokio::time::Instant> = None;
    // The last voiced packet of the bot, and the caller's first voiced frame actually sent.
    let mut bot_voiced: Option<tokio::time::Instant> = None;
    let mut onset: Option<tokio::time::Instant> = None;
    let result = loop {
        tokio::select! {
            _ = ticker.tick() => {
                let now = tokio::time::Instant::now();
                if now > give_up || speech_end.is_some_and(|e| now > e + REPLY_LIMIT) {
                    break Err("no reply in time".to_string());
                }
                let mut last_voiced_frame = false;
                let frame: &[i16] = match &mut phase {
                    Phase::Greeting { first_voiced: Some(first), last_voiced: Some(last) }
                        if (wait_greeting && now - *last >= GREETING_GAP) || (!wait_greeting && now - *first >= BARGE_IN_AFTER) =>
                    {
                        phase = Phase::Speaking { frame: 0 };
                        &silence
                    }
                    Phase::Speaking { frame } => {
                        let i = *frame;
                        *frame += 1;
                        if (i as u64 + 1) * 20 >= speech_end_ms && speech_end.is_none() {
                            last_voiced_frame = true;
                        }
                        if (i + 1) * 160 >= pcm.len() {
                            phase = Phase::Waiting;
                        }
                        pcm.get(i * 160..((i + 1) * 160).min(pcm.len())).unwrap_or(&silence)
                    }
                    _ => &silence,
                };
                let mut pkt = vec![0x80u8, 8];
                pkt.extend_from_slice(&seq.to_be_bytes());
                pkt.extend_from_slice(&ts.to_be_bytes());
                pkt.extend_from_slice(&0x0bec_0001u32.to_be_bytes());
                pkt.extend(frame.iter().map(|s| linear_to_alaw(*s)));
                pkt.resize(12 + 160, linear_to_alaw(0));
                seq = seq.wrapping_add(1);
                ts = ts.wrapping_add(160);
                let voiced_frame = rms(frame) >= VOICED_RMS;
                let _ = rtp.send_to(&pkt, media).await;
                let sent = tokio::time::Instant::now();
                if voiced_frame && onset.is_none() && matches!(phase, Phase::Speaking { .. } | Phase::Waiting) {
                    onset = Some(sent);
                }
                if last_voiced_frame {
                    // From the instant the last voiced frame left, not from when it was due.
                    speech_end = Some(sent);
                    if let Some(v) = bot_voiced.filter(|v| sent.saturating_duration_since(*v) < SILENT_BEFORE_END) {
                        outcome.invalid = Some(format!(
                            "the bot was still sending voice {:.0} ms before the caller stopped speaking",
                            sent.saturating_duration_since(v).as_secs_f64() * 1000.0
                        ));
                    } else if let (false, Some(on)) = (wait_greeting, onset) {
                        // Barge-in: the bot's last voiced packet before the caller stopped.
                        // None when the greeting had already ended before the caller spoke.
                        outcome.barge_in_stop_ms = bot_voiced.filter(|v| *v >= on).map(|v| (v - on + Duration::from_millis(20)).as_secs_f64() * 1000.0);
                    }
                }
            }
            r = rtp.recv_from(&mut buf) => {
                let Ok((n, _)) = r else { continue };
                if n <= 12 || buf[1] & 0x7f != 8 {
                    continue;
                }
                let now = tokio::time::Instant::now();
                if let Some(prev) = last_rx {
                    let gap = (now - prev).as_secs_f64() * 1000.0;
                    // Longer gaps are pauses between prompts, not jitter.
                    if gap < 200.0 {
                        outcome.jitter_ms.push((gap - 20.0).abs());
                    }
                }
                last_rx = Some(now);
                if outcome.first_audio_ms.is_none() {
                    outcome.first_audio_ms = Some((now - acked).as_secs_f64() * 1000.0);
                }
                let samples: Vec<i16> = buf[12..n].iter().map(|b| alaw_to_linear(*b)).collect();
                let voiced = rms(&samples) >= VOICED_RMS;
                if voiced && speech_end.is_none() {
                    bot_voiced = Some(now);
                }
                match &mut phase {
                    Phase::Greeting { first_voiced, last_voiced } => if voiced {
                        first_voiced.get_or_insert(now);
                        *last_voiced = Some(now);
                    },
                    _ => if voiced {
                        if let Some(end) = speech_end {
                            if now > end {
                                outcome.reply_ms = Some((now - end).as_secs_f64() * 1000.0);
                                break Ok(());
                            }
                        }
                    }
                }
            }
            r = sip.recv_from(&mut sbuf) => {
                if let Ok((n, _)) = r {
                    if sbuf[..n].starts_with(b"BYE") || sbuf[..n].starts_with(b"REFER") {
                        let what = String::from_utf8_lossy(&sbuf[..n.min(6)]).trim().to_string();
                        break Err(format!("the bot sent {what} before a reply"));
                    }
                }
            }
        }
    };
    let _ = sip.send_to(format!("{}Content-Length: 0\r\n\r\n", head("BYE", 2, &tag)).as_bytes(), server).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), sip.recv_from(&mut buf)).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_end_is_the_last_voiced_frame() {
        let mut pcm = vec![0i16; 1600];
        pcm.extend((0..800).map(|i| if i % 2 == 0 { 3000 } else { -3000 }));
        pcm.extend(vec![0i16; 1600]);
        assert_eq!(speech_end_ms(&pcm), 300);
    }

    #[test]
    fn percentiles_of_sorted_values() {
        let v = [1.0, 2.0, 3.0, 4.0, 100.0];
        assert_eq!(pct(&v, 0.5), 3.0);
        assert_eq!(pct(&v, 1.0), 100.0);
        assert_eq!(pct(&[], 0.5), 0.0);
    }
}
