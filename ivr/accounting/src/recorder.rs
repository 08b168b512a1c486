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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::event::Event;
use crate::record::CallRecord;
use crate::store::Store;
use crate::{Error, Result};

enum Item {
    Event(Event),
    Finish(CallRecord, Option<oneshot::Sender<()>>),
    Flush(oneshot::Sender<()>),
}

/// Resolves when the call's record is committed. Dropping it is fine: the record is still
/// written; awaiting it is for whoever must know (tests, shutdown, SIP BYE acknowledgement).
pub struct Committed(oneshot::Receiver<()>);

impl std::future::Future for Committed {
    type Output = Result<()>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.map_err(|_| Error::WriterGone))
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
        BatchPolicy {
            max_items: 512,
            window: Duration::from_millis(50),
            queue_capacity: 65_536,
        }
    }
}

impl Recorder {
    /// Starts the writer on a thread of its own (with its own single-threaded runtime): the
    /// serialisation, hashing and database work of the batches never takes a worker thread
    /// of the runtime that runs the calls' media.
    pub fn start(store: Store, policy: BatchPolicy) -> Result<(Recorder, Writer)> {
        let (tx, rx) = mpsc::channel(policy.queue_capacity.max(1));
        let (done_tx, done_rx) = oneshot::channel();
        let span = tracing::info_span!("accounting_writer", backend = store.backend());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("accounting-writer".into())
            .spawn(move || {
                rt.block_on(writer(store, rx, policy).instrument(span));
                let _ = done_tx.send(());
            })?;
        Ok((
            Recorder {
                tx,
                dropped_events: Arc::default(),
            },
            Writer(done_rx),
        ))
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

    /// Waits until everything queued before this call is committed.
    pub async fn flush(&self) -> Result<()> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Item::Flush(ack))
            .await
            .map_err(|_| Error::WriterGone)?;
        done.await.map_err(|_| Error::WriterGone)
    }

    pub fn dropped_events(&self) -> u64 {
        self.dropped_events.load(Ordering::Relaxed)
    }
}

async fn writer(shared: Store, mut rx: mpsc::Receiver<Item>, policy: BatchPolicy) {
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
    let mut events = Vec::new();
    let mut records = Vec::new();
    let mut acks = Vec::new();
    while let Some(first) = rx.recv().await {
        let deadline = tokio::time::Instant::now() + policy.window;
        let mut flush_now = take(first, &mut events, &mut records, &mut acks);
        while !flush_now && events.len() + records.len() < policy.max_items {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(item)) => flush_now = take(item, &mut events, &mut records, &mut acks),
                Ok(None) | Err(_) => break,
            }
        }
        // A record is never given up: retry until the database takes it, with backoff.
        let mut backoff = Duration::from_millis(100);
        loop {
            match store.write_batch(&events, &records).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, events = events.len(), records = records.len(), "accounting batch not committed, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        tracing::debug!(
            events = events.len(),
            records = records.len(),
            "accounting batch committed"
        );
        events.clear();
        records.clear();
        for a in acks.drain(..) {
            let _ = a.send(());
        }
    }
    store.close().await;
}

/// Adds an item to the batch; true when the batch must be committed right away.
fn take(
    item: Item,
    events: &mut Vec<Event>,
    records: &mut Vec<CallRecord>,
    acks: &mut Vec<oneshot::Sender<()>>,
) -> bool {
    match item {
        Item::Event(e) => {
            events.push(e);
            false
        }
        Item::Finish(r, ack) => {
            records.push(r);
            acks.extend(ack);
            false
        }
        Item::Flush(ack) => {
            acks.push(ack);
            true
        }
    }
}
