//! The handle call tasks use to record events and ended calls without ever waiting on the
//! database: items go into a bounded queue, a background writer commits them in batches.
//!
//! Guarantee (what a kill -9 can and cannot lose):
//! - a call's record is durable once the `Committed` returned by `finish_call` resolves
//!   to Ok: its batch transaction committed (SQLite WAL synchronous=FULL fsyncs the WAL;
//!   PostgreSQL with synchronous_commit=on fsyncs its WAL);
//! - a batch is committed at most `batch_window_ms` (default 50 ms) after its first item
//!   arrived, plus the commit time, so a call ended more than ~100 ms before a crash is on
//!   disk; a call ended within that window may be lost as a record, but its events written
//!   in earlier batches survive and the day close rebuilds it (as a lost call);
//! - events of calls in progress are written the same way; a full queue drops events
//!   (counted, logged) rather than block the media path, but never a call record: a record
//!   that finds the queue full is handed to a task that waits for room.
//!
//! Database outage (with a spool, as `ivr serve` runs it): a batch the database refuses is
//! appended to the local spool (`spool.rs`, fsynced) and acknowledged from there; the
//! following batches go to the spool too, in order, until the database answers again and
//! the spool is replayed. The outage is logged once when it starts and once when it ends.
//! Without a spool, a batch is retried until the database takes it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::event::Event;
use crate::record::CallRecord;
use crate::requests::NewRequest;
use crate::spool::{Batch, Spool};
use crate::store::Store;
use crate::{Error, Result};

enum Item {
    Event(Event),
    Finish(CallRecord, Option<oneshot::Sender<()>>),
    Request(NewRequest, oneshot::Sender<()>),
    Flush(oneshot::Sender<()>),
}

/// Resolves when the call's record is committed. Dropping it is fine: the record is still
/// written; awaiting it is for whoever must know (tests, shutdown, SIP BYE acknowledgement).
pub struct Committed(oneshot::Receiver<()>);

impl std::future::Future for Committed {
    type Output = Result<()>;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|r| r.map_err(|_| Error::WriterGone))
    }
}

#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Item>,
    dropped_events: Arc<AtomicU64>,
}

/// The writer thread; it ends once every `Recorder` clone is dropped and the queue is drained.
pub struct Writer(oneshot::Receiver<()>);

impl Writer {
    pub async fn join(self) {
        let _ = self.0.await;
    }
}

#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    pub max_items: usize,
    pub window: Duration,
    pub queue_capacity: usize,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy { max_items: 512, window: Duration::from_millis(50), queue_capacity: 65_536 }
    }
}

impl Recorder {
    /// Starts the writer on a thread of its own (with its own single-threaded runtime): the
    /// serialisation, hashing and database work of the batches never takes a worker thread
    /// of the runtime that runs the calls' media.
    pub fn start(store: Store, policy: BatchPolicy) -> Result<(Recorder, Writer)> {
        Recorder::start_spooled(store, policy, None)
    }

    /// The same, with a local spool that takes the batches while the database is down
    /// (see the module doc). Batches left in it by a previous run are replayed first.
    pub fn start_spooled(store: Store, policy: BatchPolicy, spool: Option<PathBuf>) -> Result<(Recorder, Writer)> {
        let spool = spool.map(|p| Spool::open(&p)).transpose()?;
        if let Some(s) = &spool {
            if s.pending() > 0 {
                tracing::warn!(batches = s.pending(), spool = %s.path().display(), "accounting spool has batches from a previous run: replaying them first");
            }
        }
        let (tx, rx) = mpsc::channel(policy.queue_capacity.max(1));
        let (done_tx, done_rx) = oneshot::channel();
        let span = tracing::info_span!("accounting_writer", backend = store.backend());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::Builder::new().name("accounting-writer".into()).spawn(move || {
            rt.block_on(writer(store, rx, policy, spool).instrument(span));
            let _ = done_tx.send(());
        })?;
        Ok((Recorder { tx, dropped_events: Arc::default() }, Writer(done_rx)))
    }

    /// Records one event. Never waits: if the queue is full the event is dropped and counted.
    pub fn record(&self, e: Event) {
        if let Err(err) = self.tx.try_send(Item::Event(e)) {
            let n = self.dropped_events.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                let why = match err {
                    mpsc::error::TrySendError::Full(_) => "queue full",
                    mpsc::error::TrySendError::Closed(_) => "writer stopped",
                };
                tracing::warn!(dropped_events = n, why, "accounting event dropped");
            }
        }
    }

    /// Hands over an ended call's record. Never waits; the returned `Committed` resolves when
    /// it is durable.
    pub fn finish_call(&self, rec: CallRecord) -> Committed {
        let (ack, done) = oneshot::channel();
        match self.tx.try_send(Item::Finish(rec, Some(ack))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(item)) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    if tx.send(item).await.is_err() {
                        tracing::error!("accounting writer stopped: call record not written");
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("accounting writer stopped: call record not written");
            }
        }
        Committed(done)
    }

    /// Hands over a procedure request (call-back, attestation) for the agents. Never waits;
    /// the returned `Committed` resolves once it is stored (or spooled).
    pub fn request(&self, req: NewRequest) -> Committed {
        let (ack, done) = oneshot::channel();
        match self.tx.try_send(Item::Request(req, ack)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(item)) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    if tx.send(item).await.is_err() {
                        tracing::error!("accounting writer stopped: procedure request not written");
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("accounting writer stopped: procedure request not written");
            }
        }
        Committed(done)
    }

    /// Waits until everything queued before this call is committed.
    pub async fn flush(&self) -> Result<()> {
        let (ack, done) = oneshot::channel();
        self.tx.send(Item::Flush(ack)).await.map_err(|_| Error::WriterGone)?;
        done.await.map_err(|_| Error::WriterGone)
    }

    pub fn dropped_events(&self) -> u64 {
        self.dropped_events.load(Ordering::Relaxed)
    }
}

async fn writer(shared: Store, mut rx: mpsc::Receiver<Item>, policy: BatchPolicy, mut spool: Option<Spool>) {
    let mut backoff = Duration::from_millis(100);
    let store = loop {
        match shared.reopen().await {
            Ok(s) => break s,
            Err(e) => {
                tracing::error!(error = %e, "accounting database unavailable, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    };
    drop(shared);
    let mut outage = Outage::default();
    let mut batch = Batch::default();
    let mut acks = Vec::new();
    loop {
        // While batches wait in the spool, wake up to probe the database even when no call
        // produces anything.
        let first = match spool.as_ref().map_or(0, Spool::pending) {
            0 => rx.recv().await,
            _ => match tokio::time::timeout_at(outage.next_probe, rx.recv()).await {
                Ok(item) => item,
                Err(_) => {
                    if let Some(s) = spool.as_mut() {
                        replay(&store, s, &mut outage).await;
                    }
                    continue;
                }
            },
        };
        let Some(first) = first else { break };
        let deadline = tokio::time::Instant::now() + policy.window;
        let mut flush_now = take(first, &mut batch, &mut acks);
        while !flush_now && batch.events.len() + batch.records.len() + batch.requests.len() < policy.max_items {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(item)) => flush_now = take(item, &mut batch, &mut acks),
                Ok(None) | Err(_) => break,
            }
        }
        commit(&store, spool.as_mut(), &mut outage, &batch).await;
        tracing::debug!(events = batch.events.len(), records = batch.records.len(), requests = batch.requests.len(), "accounting batch committed");
        batch = Batch::default();
        for a in acks.drain(..) {
            let _ = a.send(());
        }
    }
    // Last chance for what is spooled; what the database still refuses stays in the file
    // and is replayed at the next start.
    if let Some(s) = spool.as_mut() {
        if s.pending() > 0 {
            replay(&store, s, &mut outage).await;
        }
    }
    store.close().await;
}

/// The state of a database outage, so that it is logged once when it starts and once
/// when it ends, not for every batch.
struct Outage {
    since: Option<std::time::Instant>,
    backoff: Duration,
    /// When the database is tried again while batches wait in the spool.
    next_probe: tokio::time::Instant,
}

impl Default for Outage {
    fn default() -> Self {
        Outage { since: None, backoff: Duration::from_millis(200), next_probe: tokio::time::Instant::now() }
    }
}

/// How long a probe of a database that was down may take before it counts as still down
/// (a stopped server makes the pool wait for a connection up to its acquire timeout).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Outage {
    fn failed(&mut self, e: &Error, spool: Option<&Spool>) {
        if self.since.is_none() {
            self.since = Some(std::time::Instant::now());
            match spool {
                Some(s) => {
                    tracing::error!(error = %e, spool = %s.path().display(), "accounting database unavailable: batches go to the local spool until it is back")
                }
                None => tracing::error!(error = %e, "accounting database unavailable: retrying the batch until it is back"),
            }
        }
        self.backoff = (self.backoff * 2).min(Duration::from_secs(2));
        self.next_probe = tokio::time::Instant::now() + self.backoff;
    }

    fn recovered(&mut self, replayed: usize) {
        if let Some(since) = self.since.take() {
            tracing::info!(after_s = since.elapsed().as_secs(), replayed_batches = replayed, "accounting database back");
        }
        self.backoff = Duration::from_millis(200);
    }
}

/// Makes `batch` durable: in the database, or else in the spool. Without a spool (or when
/// the spool cannot be written either) it retries until the database takes it.
async fn commit(store: &Store, mut spool: Option<&mut Spool>, outage: &mut Outage, batch: &Batch) {
    if batch.is_empty() {
        return;
    }
    loop {
        // Order: nothing goes to the database while older batches wait in the spool, and the
        // database is probed only at its backoff, so batches are not held by a dead server.
        if let Some(s) = spool.as_deref_mut() {
            if s.pending() > 0 && tokio::time::Instant::now() >= outage.next_probe {
                replay(store, s, outage).await;
            }
        }
        let spooled = spool.as_deref().map_or(0, Spool::pending);
        if spooled == 0 {
            match write(store, batch).await {
                Ok(()) => {
                    outage.recovered(0);
                    return;
                }
                Err(e) => outage.failed(&e, spool.as_deref()),
            }
        }
        if let Some(s) = spool.as_deref_mut() {
            match s.append(batch) {
                Ok(()) => return,
                Err(e) => tracing::error!(error = %e, "accounting spool not writable: holding the batch"),
            }
        }
        tokio::time::sleep(outage.backoff).await;
    }
}

/// Writes the spooled batches to the database in order; stops at the first refusal and
/// keeps the rest.
async fn replay(store: &Store, spool: &mut Spool, outage: &mut Outage) {
    let batches = match spool.read() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "accounting spool unreadable");
            return;
        }
    };
    let mut done = 0;
    for b in &batches {
        // The first write is the probe: bounded, since the server may still be gone.
        let attempt = if done == 0 {
            match tokio::time::timeout(PROBE_TIMEOUT, write(store, b)).await {
                Ok(r) => r,
                Err(_) => Err(Error::Timeout("database probe")),
            }
        } else {
            write(store, b).await
        };
        match attempt {
            Ok(()) => done += 1,
            Err(e) => {
                outage.failed(&e, Some(spool));
                break;
            }
        }
    }
    if done == 0 && !batches.is_empty() {
        return;
    }
    if let Err(e) = spool.replace(&batches[done..]) {
        tracing::error!(error = %e, "accounting spool not rewritten: its replayed batches may be written again");
        return;
    }
    if done == batches.len() {
        outage.recovered(done);
    }
}

async fn write(store: &Store, b: &Batch) -> Result<()> {
    store.write_batch(&b.events, &b.records).await?;
    for r in &b.requests {
        store.insert_request(r).await?;
    }
    Ok(())
}

/// Adds an item to the batch; true when the batch must be committed right away.
fn take(item: Item, batch: &mut Batch, acks: &mut Vec<oneshot::Sender<()>>) -> bool {
    match item {
        Item::Event(e) => {
            batch.events.push(e);
            false
        }
        Item::Finish(r, ack) => {
            batch.records.push(r);
            acks.extend(ack);
            false
        }
        Item::Request(r, ack) => {
            batch.requests.push(r);
            acks.push(ack);
            false
        }
        Item::Flush(ack) => {
            acks.push(ack);
            true
        }
    }
}
