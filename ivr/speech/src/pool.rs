//! `AsrPool`: a fixed number of recognition workers (threads, each with its
//! own whisper state over the one shared model) fed by a bounded queue.
//!
//! `submit` never blocks the media path: when the queue is full it returns
//! `PoolError::Overloaded` at once, which the dialogue turns into "one moment"
//! or the keypad menu instead of letting latency grow. A handle can be
//! cancelled (a speculative start made useless by the caller talking on): a
//! queued job is skipped, a running one is aborted at whisper's next check.
//!
//! Workers run at the process's priority unless told otherwise: the media path is
//! protected by raising its own threads (see `priority.rs`), not by putting recognition
//! below every other program of the host, where any ordinary load starved it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::oneshot;

use crate::asr::{AsrError, AsrWorker, Recognizer, Transcript};

/// What a pool worker does with one utterance. `AsrWorker` is the real one.
pub trait Transcribe: Send + 'static {
    fn transcribe(&mut self, pcm16k: &[f32], cancel: &Arc<AtomicBool>) -> Result<Transcript, AsrError>;
}

impl Transcribe for AsrWorker {
    fn transcribe(&mut self, pcm16k: &[f32], cancel: &Arc<AtomicBool>) -> Result<Transcript, AsrError> {
        self.transcribe_cancellable(pcm16k, Some(Arc::clone(cancel)))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    #[error("recognition queue full ({0} waiting)")]
    Overloaded(usize),
    #[error("recognition pool stopped")]
    Stopped,
}

#[derive(Debug)]
pub struct PoolResult {
    pub transcript: Result<Transcript, AsrError>,
    /// Time spent waiting for a free worker.
    pub queued_ms: u64,
    /// Time the worker spent on it.
    pub run_ms: u64,
}

struct Job {
    pcm: Vec<f32>,
    cancel: Arc<AtomicBool>,
    submitted: Instant,
    reply: oneshot::Sender<PoolResult>,
}

pub struct AsrHandle {
    cancel: Arc<AtomicBool>,
    rx: oneshot::Receiver<PoolResult>,
}

impl AsrHandle {
    /// Stops the work for this utterance; its result will be `Cancelled`.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn canceller(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    pub async fn result(self) -> Result<PoolResult, PoolError> {
        self.rx.await.map_err(|_| PoolError::Stopped)
    }

    /// Blocking wait, for code outside an async runtime.
    pub fn wait(self) -> Result<PoolResult, PoolError> {
        self.rx.blocking_recv().map_err(|_| PoolError::Stopped)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLoad {
    pub workers: usize,
    pub busy: usize,
    pub queued: usize,
    pub capacity: usize,
}

pub struct AsrPool {
    tx: Option<SyncSender<Job>>,
    threads: Vec<JoinHandle<()>>,
    queued: Arc<AtomicUsize>,
    busy: Arc<AtomicUsize>,
    capacity: usize,
}

impl AsrPool {
    /// `workers` whisper states over `recognizer`'s model; at most `capacity`
    /// utterances wait for a worker.
    pub fn whisper(recognizer: &Recognizer, workers: usize, capacity: usize) -> Result<Self, AsrError> {
        Self::whisper_at(recognizer, workers, capacity, 0)
    }

    /// The same, the workers (and the threads whisper.cpp starts from them, which inherit
    /// it) `nice` steps below the process's base priority (0 = at it).
    pub fn whisper_at(recognizer: &Recognizer, workers: usize, capacity: usize, nice: i32) -> Result<Self, AsrError> {
        let engines = (0..workers.max(1)).map(|_| recognizer.worker()).collect::<Result<Vec<_>, _>>()?;
        Ok(Self::with_nice(engines, capacity, nice))
    }

    pub fn new<T: Transcribe>(engines: Vec<T>, capacity: usize) -> Self {
        Self::with_nice(engines, capacity, 0)
    }

    pub fn with_nice<T: Transcribe>(engines: Vec<T>, capacity: usize, nice: i32) -> Self {
        let (tx, rx) = sync_channel::<Job>(capacity);
        let rx = Arc::new(Mutex::new(rx));
        let queued = Arc::new(AtomicUsize::new(0));
        let busy = Arc::new(AtomicUsize::new(0));
        let threads = engines
            .into_iter()
            .enumerate()
            .filter_map(|(i, engine)| {
                let (rx, queued, busy) = (Arc::clone(&rx), Arc::clone(&queued), Arc::clone(&busy));
                std::thread::Builder::new()
                    .name(format!("asr-{i}"))
                    .spawn(move || worker_loop(engine, rx, queued, busy, nice))
                    .map_err(|e| tracing::error!(error = %e, "cannot start ASR worker thread"))
                    .ok()
            })
            .collect();
        AsrPool { tx: Some(tx), threads, queued, busy, capacity }
    }

    pub fn submit(&self, pcm16k: Vec<f32>) -> Result<AsrHandle, PoolError> {
        let tx = self.tx.as_ref().ok_or(PoolError::Stopped)?;
        let cancel = Arc::new(AtomicBool::new(false));
        let (reply, rx) = oneshot::channel();
        let job = Job { pcm: pcm16k, cancel: Arc::clone(&cancel), submitted: Instant::now(), reply };
        self.queued.fetch_add(1, Ordering::SeqCst);
        match tx.try_send(job) {
            Ok(()) => Ok(AsrHandle { cancel, rx }),
            Err(e) => {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                match e {
                    TrySendError::Full(_) => Err(PoolError::Overloaded(self.capacity)),
                    TrySendError::Disconnected(_) => Err(PoolError::Stopped),
                }
            }
        }
    }

    pub fn load(&self) -> PoolLoad {
        PoolLoad { workers: self.threads.len(), busy: self.busy.load(Ordering::SeqCst), queued: self.queued.load(Ordering::SeqCst), capacity: self.capacity }
    }
}

impl Drop for AsrPool {
    fn drop(&mut self) {
        // Closing the queue ends each worker after its current job.
        self.tx.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn worker_loop<T: Transcribe>(mut engine: T, rx: Arc<Mutex<Receiver<Job>>>, queued: Arc<AtomicUsize>, busy: Arc<AtomicUsize>, nice: i32) {
    // Absolute: the pool may be built from a raised media thread, whose priority a new
    // thread inherits.
    let target = crate::priority::process_nice() + nice;
    if crate::priority::this_thread_nice() != target {
        if let Err(e) = crate::priority::set_this_thread(target) {
            tracing::warn!(error = %e, nice, "cannot set the ASR worker's priority");
        }
    }
    loop {
        // The lock is held only while waiting for the next job, never during work.
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        queued.fetch_sub(1, Ordering::SeqCst);
        let queued_ms = job.submitted.elapsed().as_millis() as u64;
        let started = Instant::now();
        let transcript = if job.cancel.load(Ordering::Relaxed) {
            Err(AsrError::Cancelled)
        } else {
            busy.fetch_add(1, Ordering::SeqCst);
            let r = engine.transcribe(&job.pcm, &job.cancel);
            busy.fetch_sub(1, Ordering::SeqCst);
            r
        };
        let run_ms = started.elapsed().as_millis() as u64;
        // The caller may have gone (call ended): nothing to do then.
        let _ = job.reply.send(PoolResult { transcript, queued_ms, run_ms });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Stands in for whisper in these unit tests: echoes the utterance length,
    /// and blocks while `gate` is held so queueing can be observed.
    struct Echo {
        gate: Arc<Mutex<()>>,
        started: mpsc::Sender<usize>,
    }

    impl Transcribe for Echo {
        fn transcribe(&mut self, pcm: &[f32], cancel: &Arc<AtomicBool>) -> Result<Transcript, AsrError> {
            let _ = self.started.send(pcm.len());
            let _held = self.gate.lock();
            if cancel.load(Ordering::Relaxed) {
                return Err(AsrError::Cancelled);
            }
            Ok(Transcript {
                text: format!("{} samples", pcm.len()),
                raw_text: String::new(),
                audio_ms: pcm.len() as u64 / 16,
                asr_ms: 0,
                no_speech_prob: 0.0,
                alternatives: Vec::new(),
            })
        }
    }

    fn pool(workers: usize, capacity: usize) -> (AsrPool, Arc<Mutex<()>>, mpsc::Receiver<usize>) {
        let gate = Arc::new(Mutex::new(()));
        let (tx, rx) = mpsc::channel();
        let engines = (0..workers).map(|_| Echo { gate: Arc::clone(&gate), started: tx.clone() }).collect();
        (AsrPool::new(engines, capacity), gate, rx)
    }

    #[test]
    fn results_come_back_to_their_submitter() {
        let (p, _gate, _started) = pool(2, 8);
        let handles: Vec<_> = (1..=5).map(|n| p.submit(vec![0.0; n * 100]).unwrap()).collect();
        for (n, h) in (1..=5).zip(handles) {
            let r = h.wait().unwrap();
            assert_eq!(r.transcript.unwrap().text, format!("{} samples", n * 100));
        }
    }

    #[test]
    fn full_queue_is_reported_at_once_not_waited_on() {
        let (p, gate, started) = pool(1, 2);
        let held = gate.lock().unwrap();
        let first = p.submit(vec![0.0; 1]).unwrap();
        started.recv_timeout(Duration::from_secs(5)).unwrap(); // worker busy on it
        let queued: Vec<_> = (0..2).map(|_| p.submit(vec![0.0; 2]).unwrap()).collect();
        assert_eq!(p.load().queued, 2);
        assert_eq!(p.load().busy, 1);
        let t = Instant::now();
        assert_eq!(p.submit(vec![0.0; 3]).err(), Some(PoolError::Overloaded(2)));
        assert!(t.elapsed() < Duration::from_millis(100));
        drop(held);
        assert!(first.wait().unwrap().transcript.is_ok());
        for h in queued {
            assert!(h.wait().unwrap().transcript.is_ok());
        }
        assert!(p.submit(vec![0.0; 4]).is_ok(), "room again once drained");
    }

    /// Reports the nice value of the thread it runs on.
    #[cfg(target_os = "linux")]
    struct Nice;

    #[cfg(target_os = "linux")]
    impl Transcribe for Nice {
        fn transcribe(&mut self, _: &[f32], _: &Arc<AtomicBool>) -> Result<Transcript, AsrError> {
            // SAFETY: plain integer syscalls.
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::syscall(libc::SYS_gettid) as libc::id_t) };
            Ok(Transcript { text: nice.to_string(), raw_text: String::new(), audio_ms: 0, asr_ms: 0, no_speech_prob: 0.0, alternatives: Vec::new() })
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn workers_run_at_the_priority_they_are_given() {
        let ours = crate::priority::process_nice();
        let p = AsrPool::new(vec![Nice], 1);
        let theirs: i32 = p.submit(vec![0.0]).unwrap().wait().unwrap().transcript.unwrap().text.parse().unwrap();
        assert_eq!(theirs, ours, "by default at the process's priority, not below the host's other programs");
        let p = AsrPool::with_nice(vec![Nice], 1, 5);
        let theirs: i32 = p.submit(vec![0.0]).unwrap().wait().unwrap().transcript.unwrap().text.parse().unwrap();
        assert_eq!(theirs, (ours + 5).min(19), "lowered when asked (no way to raise the media path)");
    }

    #[test]
    fn cancelled_jobs_are_skipped_or_aborted() {
        let (p, gate, started) = pool(1, 4);
        let held = gate.lock().unwrap();
        let running = p.submit(vec![0.0; 1]).unwrap();
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        let waiting = p.submit(vec![0.0; 2]).unwrap();
        waiting.cancel();
        running.cancel();
        drop(held);
        assert!(matches!(running.wait().unwrap().transcript, Err(AsrError::Cancelled)));
        assert!(matches!(waiting.wait().unwrap().transcript, Err(AsrError::Cancelled)));
        // The skipped job never reached the engine.
        assert!(started.recv_timeout(Duration::from_millis(200)).is_err());
    }
}
