//! `ivr bench sip --flood`: an INVITE flood at a multiple of the configured capacity.
//!
//! Starts `ivr serve --app script` (temporary SQLite, `max_calls = --capacity`), holds
//! `--probes` calls of its own first (they send and receive RTP and measure the jitter of
//! the bot's audio through the whole flood), then SIPp on 127.0.0.1 sends INVITEs at
//! `--flood-factor` × capacity ÷ hold calls/s for `--secs` (`tests/sipp/flood_call.xml`):
//! each is either admitted (held `--hold-s`, then BYE) or refused with 503 and a
//! Retry-After header, and says which in SIPp's log. The server's RSS is sampled every
//! 250 ms. When SIPp is done, one normal call checks the service answers at once.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::server_child::ServerChild;
use super::sip::{one_call, rss_kb, script_server, CallResult, SipBenchArgs};

const SCENARIO: &str = include_str!("../../../../tests/sipp/flood_call.xml");

pub fn run(args: &SipBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.capacity > args.probes, "--capacity must exceed --probes");
    let dir = std::env::temp_dir().join(format!("ivr-bench-flood-{}", std::process::id()));
    let hold = args.hold_s.max(1);
    let max = args.capacity;
    let port_base = 44_000 + (std::process::id() % 500) as usize * 16;
    // The greeting outlasts every call, so the bot's audio never pauses in a probe's window.
    let mut server = script_server(&dir, max, (port_base, port_base + 2 * max + 64), (args.secs + hold + 30) as u32, "error")?;
    let scenario = dir.join("flood_call.xml");
    std::fs::write(&scenario, SCENARIO)?;
    let res = flood(args, &server, &dir, &scenario);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
    res
}

fn flood(args: &SipBenchArgs, server: &ServerChild, dir: &std::path::Path, scenario: &std::path::Path) -> anyhow::Result<()> {
    let (pid, addr) = (server.pid(), server.addr);
    let hold = args.hold_s.max(1);
    let capacity_cps = args.capacity as f64 / hold as f64;
    let rate_cps = capacity_cps * args.flood_factor as f64;
    let total = (rate_cps * args.secs as f64).ceil() as u64;
    // A worker thread, so the probes run while this thread watches SIPp.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let rss_idle = rss_kb(pid);

    // Baseline: the same probes for 5 s before the flood, in this same process.
    let baseline: Vec<CallResult> = rt.block_on(async {
        let start = tokio::time::Instant::now() + Duration::from_secs(1);
        let calls: Vec<_> = (0..args.probes).map(|i| tokio::spawn(one_call(addr, 100_000 + i, start, Duration::from_secs(5)))).collect();
        let mut out = Vec::new();
        for c in calls {
            out.push(c.await.unwrap_or_else(|e| CallResult::failed(format!("probe task: {e}"))));
        }
        out
    });

    // Probes first: admitted before the flood, measured over the flood's whole span.
    let window = Duration::from_secs(args.secs);
    let probes: Vec<_> = {
        let _g = rt.enter();
        let start = tokio::time::Instant::now() + Duration::from_secs(2);
        (0..args.probes).map(|i| rt.spawn(one_call(addr, 200_000 + i, start, window))).collect()
    };
    // Let the probes be answered before the flood starts.
    std::thread::sleep(Duration::from_secs(2));

    let sip_port = free_port()?;
    let media_port = free_port()? & !1;
    let log = dir.join("sipp_logs.log");
    let sipp_started = Instant::now();
    let mut sipp = Command::new("sipp")
        .arg(addr.to_string())
        .arg("-sf")
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-p", &sip_port.to_string(), "-mp", &media_port.to_string()])
        .args(["-r", &format!("{}", (rate_cps * 1000.0).round() as u64), "-rp", "1000000"])
        .args(["-m", &total.to_string(), "-l", &total.to_string(), "-d", &(hold * 1000).to_string()])
        .args(["-nostdin", "-trace_logs", "-log_file"])
        .arg(&log)
        .args(["-timeout", &format!("{}s", args.secs + hold + 60), "-timeout_error"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting sipp (package sip-tester)")?;
    let limit = Instant::now() + Duration::from_secs(args.secs + hold + 90);
    let mut rss_peak = rss_idle;
    let mut rss_flood_end = 0;
    let status = loop {
        match sipp.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < limit => {
                let r = rss_kb(pid);
                rss_peak = rss_peak.max(r);
                if rss_flood_end == 0 && sipp_started.elapsed() >= window {
                    rss_flood_end = r;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            _ => {
                let _ = sipp.kill();
                let _ = sipp.wait();
                break None;
            }
        }
    };
    let sipp_secs = sipp_started.elapsed().as_secs_f64();

    // Recovery: a normal call right after the flood's last call ended.
    let recovery = rt.block_on(async {
        let start = tokio::time::Instant::now() + Duration::from_millis(500);
        one_call(addr, 300_000, start, Duration::from_secs(3)).await
    });
    let probes: Vec<CallResult> = probes.into_iter().map(|h| rt.block_on(h).unwrap_or_else(|e| CallResult::failed(format!("probe task: {e}")))).collect();
    let rss_after = rss_kb(pid);

    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let admitted = text.lines().filter(|l| l.starts_with("admitted ")).count() as u64;
    let refused = text.lines().filter(|l| l.starts_with("refused ")).count() as u64;
    let retry_after: Vec<&str> = text.lines().filter_map(|l| l.split("retry-after=").nth(1)).collect();
    let other = total.saturating_sub(admitted + refused);

    let jitter = |calls: &[CallResult]| {
        let mut gaps: Vec<u64> = calls.iter().flat_map(|r| r.gaps_us.iter().map(|g| g.abs_diff(20_000))).collect();
        gaps.sort_unstable();
        gaps
    };
    let at = |gaps: &[u64], p: f64| gaps.get(((gaps.len() as f64 * p) as usize).min(gaps.len().saturating_sub(1))).copied().unwrap_or(0) as f64 / 1000.0;
    let (gaps, base_gaps) = (jitter(&probes), jitter(&baseline));
    let pct = |p: f64| at(&gaps, p);
    let probes_ok = probes.iter().filter(|p| p.failure.is_none()).count();

    println!(
        "flood bench: ivr serve --app script, max_calls {}, calls held {hold} s = capacity {capacity_cps:.1} calls/s; SIPp INVITEs at {}× = {rate_cps:.1}/s for {} s ({total} INVITEs), SIPp ran {sipp_secs:.0} s{}",
        args.capacity,
        args.flood_factor,
        args.secs,
        if status.is_none() { " (killed at its time limit)" } else { "" }
    );
    println!("  INVITEs admitted {admitted}, refused 503 with Retry-After {refused}, other (timeout, 503 without Retry-After, error) {other}");
    if let Some(ra) = retry_after.first() {
        println!("  Retry-After value: {ra} s");
    }
    println!(
        "  admitted calls' audio ({probes_ok}/{} probe calls held through the flood): {} RTP packets, jitter |gap-20ms| p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        probes.len(),
        probes.iter().map(|p| p.packets).sum::<usize>(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "  baseline, same probes for 5 s before the flood ({}/{} ok): jitter p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; flood p99 / baseline p99 = {:.1}",
        baseline.iter().filter(|p| p.failure.is_none()).count(),
        baseline.len(),
        at(&base_gaps, 0.5),
        at(&base_gaps, 0.99),
        at(&base_gaps, 1.0),
        pct(0.99) / at(&base_gaps, 0.99).max(0.01)
    );
    let late = gaps.iter().filter(|g| **g > 10_000).count();
    println!("  probe packets more than 10 ms off the 20 ms beat during the flood: {late} of {}", gaps.len());
    for p in probes.iter().filter_map(|p| p.failure.as_deref()) {
        println!("    probe failed: {p}");
    }
    println!("  server RSS idle {rss_idle} KiB, at the flood's end {rss_flood_end} KiB, peak {rss_peak} KiB, after {rss_after} KiB");
    match (&recovery.failure, recovery.setup_ms) {
        (None, Some(ms)) => println!("  recovery: a normal call right after the flood answered (INVITE → 200) in {ms:.1} ms and got its audio"),
        (Some(why), _) => println!("  recovery: the call right after the flood FAILED: {why}"),
        (None, None) => println!("  recovery: the call right after the flood got its audio"),
    }
    let pass = other == 0 && refused > 0 && probes_ok == probes.len() && recovery.failure.is_none() && pct(0.99) < 5.0;
    println!("  verdict: {}", if pass { "PASS (every excess INVITE refused with 503 + Retry-After, probes on time p99 < 5 ms, recovered)" } else { "FAIL" });
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
    Ok(s.local_addr()?.port())
}
