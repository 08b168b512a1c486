//! `ivr bench sip`: how many concurrent calls with playback `ivr serve` sustains.
//!
//! Starts `ivr serve --app script` (the telephony-only app, no speech recognition) as a
//! child process (so its memory is measured alone) with a 60 s greeting and a temporary
//! SQLite accounting database, opens N calls from a UAC load generator (one SIP and one
//! RTP socket per call). Every caller sends A-law RTP every 20 ms for the whole call (so
//! the server's jitter buffer and receive path carry load, not only its playback) and
//! receives the bot's RTP for the hold time. Prints the RTP inter-packet jitter
//! (|arrival gap − 20 ms|: p50/p99/max), failed calls with their cause, and the server's
//! resident memory per call.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::server_child::ServerChild;
use clap::Args;
use tokio::net::UdpSocket;

#[derive(Args, Debug)]
pub struct SipBenchArgs {
    /// Concurrent calls to hold.
    #[arg(long, default_value_t = 300)]
    pub calls: usize,
    /// Seconds each call stays up once all are established.
    #[arg(long, default_value_t = 20)]
    pub hold_s: u64,
    /// New calls per second while ramping up.
    #[arg(long, default_value_t = 100)]
    pub rate: u64,
    /// INVITE flood instead: SIPp sends INVITEs at `--flood-factor` × the capacity
    /// (`--capacity` calls held `--hold-s` each) for `--secs`, while probe calls measure
    /// the admitted calls' audio; then a normal call checks the service recovered.
    #[arg(long)]
    pub flood: bool,
    /// Flood duration, seconds.
    #[arg(long, default_value_t = 60)]
    pub secs: u64,
    /// The server's `max_calls` in the flood.
    #[arg(long, default_value_t = 40)]
    pub capacity: usize,
    /// Flood rate as a multiple of the capacity's call rate (capacity ÷ hold).
    #[arg(long, default_value_t = 5)]
    pub flood_factor: u64,
    /// Calls held through the flood to measure the audio of admitted calls.
    #[arg(long, default_value_t = 4)]
    pub probes: usize,
}

pub(super) struct CallResult {
    /// Why the call failed; None when it held its media for the whole window.
    pub failure: Option<String>,
    pub gaps_us: Vec<u64>,
    pub packets: usize,
    pub sent: usize,
    /// INVITE sent → 200 OK received.
    pub setup_ms: Option<f64>,
}

impl CallResult {
    pub(super) fn failed(why: impl Into<String>) -> CallResult {
        CallResult { failure: Some(why.into()), gaps_us: Vec::new(), packets: 0, sent: 0, setup_ms: None }
    }
}

pub fn run(args: SipBenchArgs) -> anyhow::Result<()> {
    if args.flood {
        return super::flood::run(&args);
    }
    let dir = std::env::temp_dir().join(format!("ivr-bench-sip-{}", std::process::id()));
    let max = args.calls + 10;
    let mut server = script_server(&dir, max, (40_000, 40_000 + 2 * max + 2), 60, "warn")?;
    let (pid, server_addr) = (server.pid(), server.addr);
    let rss_idle = rss_kb(pid);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let started = Instant::now();
    let (results, rss_peak) = rt.block_on(load(server_addr, &args, pid));
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);

    let ok = results.iter().filter(|r| r.failure.is_none()).count();
    let mut causes: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in &results {
        if let Some(f) = &r.failure {
            *causes.entry(f.as_str()).or_default() += 1;
        }
    }
    let sent: usize = results.iter().map(|r| r.sent).sum();
    let mut gaps: Vec<u64> = results.iter().flat_map(|r| r.gaps_us.iter().map(|g| g.abs_diff(20_000))).collect();
    gaps.sort_unstable();
    let pct = |p: f64| gaps.get(((gaps.len() as f64 * p) as usize).min(gaps.len().saturating_sub(1))).copied().unwrap_or(0) as f64 / 1000.0;
    let all: Vec<u64> = results.iter().flat_map(|r| r.gaps_us.iter().copied()).collect();
    let short = all.iter().filter(|g| **g < 10_000).count();
    let long = all.iter().filter(|g| **g > 30_000).count();
    println!("  gaps < 10 ms: {short}, gaps > 30 ms: {long} of {} (pairs = a missed 20 ms tick)", all.len());
    let packets: usize = results.iter().map(|r| r.packets).sum();
    let per_call_kb = rss_peak.saturating_sub(rss_idle) as f64 / args.calls.max(1) as f64;
    println!(
        "sip bench: {} concurrent calls (ivr serve --app script, temporary SQLite), playback out and caller RTP in, hold {} s, {:.0} s total",
        args.calls,
        args.hold_s,
        started.elapsed().as_secs_f64()
    );
    println!("  calls ok {ok}/{} (failed: {})", args.calls, args.calls - ok);
    for (cause, n) in &causes {
        println!("    failed {n}: {cause}");
    }
    println!(
        "  RTP packets sent by the callers {sent}, received from the bot {packets}; inter-packet jitter |gap-20ms| p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!("  server RSS idle {} KiB, loaded {} KiB, {:.0} KiB per call", rss_idle, rss_peak, per_call_kb);
    let pass = ok == args.calls && pct(0.99) < 5.0;
    println!("  verdict: {}", if pass { "PASS (p99 < 5 ms, no dropped call)" } else { "FAIL" });
    Ok(())
}

async fn load(server: SocketAddr, args: &SipBenchArgs, pid: u32) -> (Vec<CallResult>, u64) {
    let hold = Duration::from_secs(args.hold_s);
    let ramp = Duration::from_millis(1000 * args.calls as u64 / args.rate.max(1));
    // Every call measures over the same window: after the ramp, for `hold`.
    let window_start = tokio::time::Instant::now() + ramp + Duration::from_secs(1);
    let mut tasks = Vec::new();
    for i in 0..args.calls {
        tasks.push(tokio::spawn(one_call(server, i, window_start, hold)));
        tokio::time::sleep(Duration::from_micros(1_000_000 / args.rate.max(1))).await;
    }
    tokio::time::sleep_until(window_start + hold / 2).await;
    let rss = rss_kb(pid);
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap_or_else(|e| CallResult::failed(format!("caller task: {e}"))));
    }
    (out, rss)
}

pub(super) async fn one_call(server: SocketAddr, i: usize, window_start: tokio::time::Instant, hold: Duration) -> CallResult {
    let (Ok(sip), Ok(rtp)) = (UdpSocket::bind("127.0.0.1:0").await, UdpSocket::bind("127.0.0.1:0").await) else {
        return CallResult::failed("caller could not bind its sockets");
    };
    let (Ok(sip_addr), Ok(rtp_addr)) = (sip.local_addr(), rtp.local_addr()) else {
        return CallResult::failed("caller could not bind its sockets");
    };
    let call_id = format!("bench-{i}-{}", std::process::id());
    let sdp = format!("v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n", rtp_addr.port());
    let head = |method: &str, cseq: u32, to_tag: &str| {
        format!(
            "{method} sip:3230@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {sip_addr};branch=z9hG4bK{method}{i}x{cseq}\r\nFrom: <sip:bench{i}@{sip_addr}>;tag=b{i}\r\nTo: <sip:3230@{server}>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:bench{i}@{sip_addr}>\r\nMax-Forwards: 70\r\n"
        )
    };
    let invite = format!("{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}", head("INVITE", 1, ""), sdp.len());
    if sip.send_to(invite.as_bytes(), server).await.is_err() {
        return CallResult::failed("INVITE could not be sent");
    }
    let mut buf = vec![0u8; 4096];
    let invited = Instant::now();
    let (to_tag, media_to) = loop {
        match tokio::time::timeout(Duration::from_secs(5), sip.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                if text.starts_with("SIP/2.0 200") {
                    let tag = text.lines().find(|l| l.starts_with("To:")).and_then(|l| l.split(";tag=").nth(1)).map(|t| t.trim().to_string());
                    let media_to = text
                        .lines()
                        .find_map(|l| l.strip_prefix("m=audio "))
                        .and_then(|l| l.split_whitespace().next())
                        .and_then(|p| p.parse::<u16>().ok())
                        .map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
                    break (tag, media_to);
                } else if text.starts_with("SIP/2.0 1") || !text.starts_with("SIP/2.0") {
                    continue;
                }
                let status = text.lines().next().unwrap_or("").trim().to_string();
                return CallResult::failed(format!("INVITE answered {status}"));
            }
            _ => return CallResult::failed("no final answer to INVITE within 5 s"),
        }
    };
    let setup_ms = Some(invited.elapsed().as_secs_f64() * 1000.0);
    let Some(to_tag) = to_tag else { return CallResult::failed("200 OK without a To tag") };
    let Some(media_to) = media_to else { return CallResult::failed("200 OK without an audio port in its SDP") };
    let tag = format!(";tag={to_tag}");
    let _ = sip.send_to(format!("{}Content-Length: 0\r\n\r\n", head("ACK", 1, &tag)).as_bytes(), server).await;
    let mut gaps = Vec::new();
    let mut packets = 0;
    let mut last: Option<tokio::time::Instant> = None;
    let end = window_start + hold;
    let mut bye_from_server = false;
    let mut sbuf = vec![0u8; 4096];
    // The caller's voice: a quiet A-law tone, 160 samples every 20 ms for the whole call.
    let mut send_tick = tokio::time::interval(Duration::from_millis(20));
    send_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let ssrc = 0x5eed_0000u32 + i as u32;
    let (mut seq, mut ts, mut sent) = (0u16, 0u32, 0usize);
    let mut pkt = [0u8; 12 + 160];
    loop {
        tokio::select! {
            _ = send_tick.tick() => {
                pkt[0] = 0x80;
                pkt[1] = 8;
                pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                pkt[4..8].copy_from_slice(&ts.to_be_bytes());
                pkt[8..12].copy_from_slice(&ssrc.to_be_bytes());
                for (k, b) in pkt[12..].iter_mut().enumerate() {
                    let x = ((ts as usize + k) as f32 * 300.0 * std::f32::consts::TAU / 8000.0).sin() * 2000.0;
                    *b = ivr_telephony::rtp::g711::linear_to_alaw(x as i16);
                }
                if rtp.send_to(&pkt, media_to).await.is_ok() {
                    sent += 1;
                }
                seq = seq.wrapping_add(1);
                ts = ts.wrapping_add(160);
            }
            r = rtp.recv_from(&mut buf) => {
                let now = tokio::time::Instant::now();
                if r.is_ok() && now >= window_start && buf[1] & 0x7f == 8 {
                    if let Some(l) = last {
                        gaps.push((now - l).as_micros() as u64);
                    }
                    last = Some(now);
                    packets += 1;
                }
            }
            r = sip.recv_from(&mut sbuf) => {
                if let Ok((n, _)) = r {
                    if sbuf[..n].starts_with(b"BYE") { bye_from_server = true; break; }
                }
            }
            _ = tokio::time::sleep_until(end) => break,
        }
    }
    let _ = sip.send_to(format!("{}Content-Length: 0\r\n\r\n", head("BYE", 2, &tag)).as_bytes(), server).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), sip.recv_from(&mut buf)).await;
    let expected = (hold.as_millis() / 20) as usize;
    let failure = if bye_from_server {
        Some("the server hung up (BYE) during the hold".to_string())
    } else if packets * 100 < expected * 95 {
        Some(format!("under 95 % of the bot's RTP packets arrived in the window ({packets} of {expected})"))
    } else {
        None
    };
    CallResult { failure, gaps_us: gaps, packets, sent, setup_ms }
}

pub(super) fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// `ivr serve --app script` (no recognition) in `dir`: a tone greeting of `greeting_secs`,
/// at most `max_calls`, RTP on `ports`, a temporary SQLite database, callers' audio
/// delivered (so the receive path is loaded), its log at `log_filter` on stderr.
pub(super) fn script_server(
    dir: &std::path::Path,
    max_calls: usize,
    ports: (usize, usize),
    greeting_secs: u32,
    log_filter: &str,
) -> anyhow::Result<ServerChild> {
    let prompts = dir.join("prompts");
    std::fs::create_dir_all(&prompts)?;
    write_tone_wav(&prompts.join("greeting.wav"), greeting_secs)?;
    let cfg = dir.join("ivr.toml");
    std::fs::write(
        &cfg,
        format!(
            "public_address = \"127.0.0.1\"\nmax_calls = {max_calls}\nrtp_timeout_s = 0\ndeliver_audio = true\n[rtp_ports]\nmin = {}\nmax = {}\n[prompts]\ndir = \"{}\"\n",
            ports.0,
            ports.1,
            prompts.display()
        ),
    )?;
    let mut cmd = ServerChild::command()?;
    cmd.args(["--app", "script", "--http", "none", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .arg("--db-url")
        .arg(format!("sqlite://{}", dir.join("bench.sqlite").display()))
        .env("IVR_LOG", log_filter)
        .stderr(Stdio::inherit());
    ServerChild::spawn(cmd)
}

/// A 440 Hz tone of `secs` seconds at 8 kHz: the script app's greeting.
fn write_tone_wav(path: &std::path::Path, secs: u32) -> anyhow::Result<()> {
    let samples = (0..secs * 8000).map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / 8000.0).sin() * 6000.0) as i16).collect();
    ivr_dialogue::audio::write_wav(path, &ivr_dialogue::tts::Pcm { rate: ivr_dialogue::audio::PHONE_RATE, samples })?;
    Ok(())
}
