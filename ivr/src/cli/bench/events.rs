//! `ivr bench events`: how fast the accounting store takes events, and what `record()` costs
//! the caller (the media path) while the writer is busy.
//!
//! Phase 1 (throughput), counting only rows actually written, until the last batch commits:
//! (a) events of calls that stay open (one `call_events` row each): event rows/s;
//! (b) whole calls of 10 events that end in the batch: records/s. Their events are folded
//! into the record and not written as rows, so (b) gives no events/s.
//! Phase 2 (media path): N simulated calls tick every 20 ms like an RTP loop, each tick
//! records an event; measures the latency of `record()`/`finish_call()` and how late the
//! 20 ms ticks are, while the writer commits behind them.
//! `--until-killed` writes calls forever and prints `committed <call-id> <day>` once each is
//! durable: the kill -9 test uses it.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use ivr_accounting::chrono::{DateTime, Utc};
use ivr_accounting::{paris_day, BatchPolicy, CallRecord, Caller, EndedBy, Event, EventKind, Flow, Playback, Recorder, Store};

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Databases to measure (repeatable). Default: a temporary SQLite file, plus the
    /// PostgreSQL of IVR_TEST_PG_URL when set. Writes synthetic calls: use a scratch database.
    #[arg(long)]
    pub db: Vec<String>,
    /// Events written in the throughput phase.
    #[arg(long, default_value_t = 200_000)]
    pub events: usize,
    /// Simulated concurrent calls in the media-path phase.
    #[arg(long, default_value_t = 200)]
    pub calls: usize,
    /// Duration of the media-path phase, seconds.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Write synthetic calls until killed, acknowledging each durable one on stdout.
    #[arg(long, hide = true)]
    pub until_killed: bool,
}

pub fn run(a: EventsArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        if a.until_killed {
            let url = a.db.first().context("--until-killed needs --db")?;
            return until_killed(url).await;
        }
        let mut urls = a.db.clone();
        let mut scratch = None;
        if urls.is_empty() {
            let dir = std::env::temp_dir().join(format!("ivr-bench-events-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            urls.push(format!("sqlite://{}", dir.join("bench.sqlite").display()));
            scratch = Some(dir);
            if let Ok(pg) = std::env::var("IVR_TEST_PG_URL") {
                urls.push(pg);
            }
        }
        let res = bench_all(&urls, &a).await;
        if let Some(dir) = scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
        res
    })
}

async fn bench_all(urls: &[String], a: &EventsArgs) -> anyhow::Result<()> {
    for url in urls {
        let store = Store::connect(url).await.with_context(|| format!("opening {}", crate::cli::report::redact(url)))?;
        println!("== {} ({})", store.backend(), crate::cli::report::redact(url));
        throughput(&store, a.events).await?;
        media_path(&store, a.calls, Duration::from_secs(a.seconds)).await?;
        store.close().await;
    }
    Ok(())
}

/// The events of one synthetic call of `n` events (at least 5), then its record.
fn synthetic_call(id: &str, start: DateTime<Utc>, n: usize) -> (Vec<Event>, anyhow::Result<CallRecord>) {
    let ms = |k: i64| start + ivr_accounting::chrono::Duration::milliseconds(k);
    let mut ev = vec![
        Event::new(id, ms(0), EventKind::Started { flow: Flow::Choix2, caller: Caller::Withheld }),
        Event::new(id, ms(100), EventKind::Answered),
        Event::new(id, ms(3000), EventKind::Question { transcript: "je voudrais des informations sur le rsa".into(), intent: "rsa".into(), score: 0.9 }),
    ];
    for k in 0..n.saturating_sub(5) {
        ev.push(Event::new(id, ms(4000 + 10 * k as i64), EventKind::Dtmf { digit: '1' }));
    }
    ev.push(Event::new(id, ms(30_000), EventKind::Played { what: Playback::Answer("rsa".into()), total_ms: 25_000, played_ms: 25_000 }));
    ev.push(Event::new(id, ms(31_000), EventKind::Ended { by: EndedBy::Bot }));
    let rec = CallRecord::from_events(&ev).map_err(anyhow::Error::from);
    (ev, rec)
}

async fn throughput(store: &Store, events: usize) -> anyhow::Result<()> {
    // Two separate measurements, because `Store::write_batch` does not store the events of
    // a call that ends in the same batch (its record holds them): pushing whole calls would
    // count 10 events per record that were never written as rows.
    // (a) events of calls that stay open: every event is one `call_events` row.
    // (b) whole calls ended at once: one `call_records` row (hash chained) per call, the
    //     call's events folded into it and not written as rows.
    // The queue holds everything so nothing is dropped: this measures the writer.
    let per_call = 10;
    let calls = events.div_ceil(per_call);
    let tag = std::process::id();
    let now = Utc::now();

    let policy = BatchPolicy { queue_capacity: calls * (per_call + 1) + 16, ..BatchPolicy::default() };
    let (rec, writer) = Recorder::start(store.clone(), policy)?;
    let t0 = Instant::now();
    let mut rows = 0usize;
    for c in 0..calls {
        // The same events as a whole call, less its end: the call stays open, its rows stay.
        let (ev, _) = synthetic_call(&format!("bench-open-{tag}-{c}"), now, per_call + 1);
        for e in ev.into_iter().filter(|e| !matches!(e.kind, EventKind::Ended { .. })) {
            rec.record(e);
            rows += 1;
        }
    }
    rec.flush().await?;
    let dt = t0.elapsed().as_secs_f64();
    let dropped = rec.dropped_events();
    println!(
        "throughput (a) events of open calls: {} event rows written in {:.2} s = {:.0} event rows/s (dropped {dropped})",
        rows as u64 - dropped,
        dt,
        (rows as u64 - dropped) as f64 / dt,
    );
    drop(rec);
    writer.join().await;

    let (rec, writer) = Recorder::start(store.clone(), policy)?;
    let t0 = Instant::now();
    for c in 0..calls {
        let (ev, r) = synthetic_call(&format!("bench-{tag}-{c}"), now, per_call);
        for e in ev {
            rec.record(e);
        }
        drop(rec.finish_call(r?));
    }
    rec.flush().await?;
    let dt = t0.elapsed().as_secs_f64();
    println!(
        "throughput (b) ended calls: {calls} call records written in {:.2} s = {:.0} records/s, each folding its {per_call} events \
         (not written as event rows: a call that ends in the batch keeps only its record; dropped {})",
        dt,
        calls as f64 / dt,
        rec.dropped_events()
    );
    drop(rec);
    writer.join().await;
    Ok(())
}

fn percentiles(v: &mut [u64]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort_unstable();
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!("p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs (n={})", p(0.5), p(0.99), p(0.999), v[v.len() - 1], v.len())
}

/// The same 20 ms ticking tasks without any recording: the lateness the runtime and the
/// machine cause by themselves, to compare with.
async fn baseline_ticks(calls: usize, dur: Duration) -> anyhow::Result<Vec<u64>> {
    let deadline = tokio::time::Instant::now() + dur;
    let mut tasks = Vec::new();
    for _ in 0..calls {
        tasks.push(tokio::spawn(async move {
            let mut late = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while tokio::time::Instant::now() < deadline {
                let scheduled = tick.tick().await;
                late.push(scheduled.elapsed().as_micros() as u64);
            }
            late
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    Ok(all)
}

async fn media_path(store: &Store, calls: usize, dur: Duration) -> anyhow::Result<()> {
    let mut base = baseline_ticks(calls, dur).await?;
    println!("  20 ms tick lateness, no recording: {}", percentiles(&mut base));
    let (rec, writer) = Recorder::start(store.clone(), BatchPolicy::default())?;
    let records = Arc::new(AtomicU64::new(0));
    let tag = std::process::id();
    let deadline = tokio::time::Instant::now() + dur;
    let mut tasks = Vec::new();
    for c in 0..calls {
        let rec = rec.clone();
        let records = records.clone();
        tasks.push(tokio::spawn(async move {
            let mut rec_lat = Vec::new();
            let mut late = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n = 0u64;
            // A call = 150 ticks (3 s); then its record, then the next call.
            loop {
                let id = format!("media-{tag}-{c}-{n}");
                let start = Utc::now();
                let (ev, r) = synthetic_call(&id, start, 150);
                for e in ev {
                    let scheduled = tick.tick().await;
                    late.push(scheduled.elapsed().as_micros() as u64);
                    let t = Instant::now();
                    rec.record(e);
                    rec_lat.push(t.elapsed().as_micros() as u64);
                    if tokio::time::Instant::now() >= deadline {
                        return (rec_lat, late);
                    }
                }
                if let Ok(r) = r {
                    let t = Instant::now();
                    drop(rec.finish_call(r));
                    rec_lat.push(t.elapsed().as_micros() as u64);
                    records.fetch_add(1, Ordering::Relaxed);
                }
                n += 1;
            }
        }));
    }
    let (mut rec_lat, mut late) = (Vec::new(), Vec::new());
    for t in tasks {
        let (r, l) = t.await?;
        rec_lat.extend(r);
        late.extend(l);
    }
    let t0 = Instant::now();
    rec.flush().await?;
    let drain = t0.elapsed();
    println!(
        "media path: {calls} calls ticking every 20 ms for {} s = {:.0} events/s offered, {} records; dropped {}; backlog drained {:.0} ms after",
        dur.as_secs(),
        rec_lat.len() as f64 / dur.as_secs_f64(),
        records.load(Ordering::Relaxed),
        rec.dropped_events(),
        drain.as_secs_f64() * 1000.0
    );
    println!("  record()/finish_call() latency:    {}", percentiles(&mut rec_lat));
    println!("  20 ms tick lateness, recording:    {}", percentiles(&mut late));
    drop(rec);
    writer.join().await;
    Ok(())
}

async fn until_killed(url: &str) -> anyhow::Result<()> {
    let store = Store::connect(url).await?;
    let (rec, _writer) = Recorder::start(store, BatchPolicy::default())?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, ivr_accounting::Committed, String)>();
    let tag = std::process::id();
    for worker in 0..4 {
        let rec = rec.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            for n in 0u64.. {
                let id = format!("dur-{tag}-{worker}-{n}");
                let start = Utc::now();
                let (ev, r) = synthetic_call(&id, start, 8);
                for e in ev {
                    rec.record(e);
                }
                let Ok(r) = r else { return };
                let committed = rec.finish_call(r);
                if tx.send((id, committed, paris_day(start).to_string())).is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
    }
    drop(tx);
    let mut out = std::io::stdout();
    while let Some((id, committed, day)) = rx.recv().await {
        committed.await?;
        writeln!(out, "committed {id} {day}")?;
        out.flush()?;
    }
    Ok(())
}
