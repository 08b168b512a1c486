//! The conversation's recognizer and player for one call: spans of the call's 16 kHz audio
//! go to the shared Whisper pool on a blocking thread, the text through the matcher, and the
//! result back to the call task as a message; plays become `CallCommand::Play` of the
//! prompts prepared at start-up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ivr_dialogue::conversation::{Overloaded, Play, Recognize};
use ivr_dialogue::policy::{Audio, Understanding};
use ivr_telephony::app::CallCommand;
use ivr_telephony::media::prompt::Prompt;
use ivr_telephony::server::CallCommander;
use tokio::sync::mpsc;

use super::content::LoadedContent;
use super::Service;

/// Samples of the caller's audio at 16 kHz since the call started.
pub type CallAudio = Arc<Mutex<Vec<f32>>>;

/// Speech kept before the endpointer's start so a soft first syllable is not cut.
const PRE_ROLL: Duration = Duration::from_millis(200);

pub struct Recognized {
    pub id: u64,
    pub text: String,
    pub understanding: Understanding,
    /// When the job was submitted (bench: end of speech → answer).
    pub submitted: Instant,
    pub asr_ms: u64,
}

pub struct PoolRecognizer {
    pub(super) service: Arc<Service>,
    /// The content the call started with.
    pub(super) content: Arc<LoadedContent>,
    pub(super) audio: CallAudio,
    pub(super) results: mpsc::UnboundedSender<Recognized>,
    pub(super) jobs: HashMap<u64, Arc<AtomicBool>>,
    pub(super) call_id: String,
}

impl Recognize for PoolRecognizer {
    fn submit(&mut self, id: u64, start: Duration, end: Duration) -> Result<(), Overloaded> {
        let pcm = {
            let Ok(audio) = self.audio.lock() else { return Err(Overloaded) };
            let from = (start.saturating_sub(PRE_ROLL).as_secs_f64() * 16_000.0) as usize;
            let to = ((end.as_secs_f64() * 16_000.0) as usize).min(audio.len());
            audio.get(from.min(to)..to).map(<[f32]>::to_vec).unwrap_or_default()
        };
        tracing::debug!(job = id, start_ms = start.as_millis() as u64, end_ms = end.as_millis() as u64, samples = pcm.len(), "recognition submitted");
        let handle = match self.service.pool.submit(pcm) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "recognition refused");
                return Err(Overloaded);
            }
        };
        self.jobs.retain(|_, c| !c.load(Ordering::Relaxed));
        self.jobs.insert(id, handle.canceller());
        self.service.live.recognizing(&self.call_id, true);
        let content = Arc::clone(&self.content);
        let results = self.results.clone();
        let call_id = self.call_id.clone();
        let submitted = Instant::now();
        let cancelled = handle.canceller();
        tokio::task::spawn_blocking(move || {
            let result = handle.wait();
            if cancelled.load(Ordering::Relaxed) {
                return;
            }
            let (text, alternatives, asr_ms) = match result {
                Ok(r) => match r.transcript {
                    Ok(t) => (t.text, t.alternatives, r.queued_ms + r.run_ms),
                    Err(e) => {
                        tracing::warn!(%call_id, error = %e, "recognition failed");
                        (String::new(), Vec::new(), r.queued_ms + r.run_ms)
                    }
                },
                // Cancelled or pool stopped: nobody waits for this result.
                Err(_) => return,
            };
            let understanding = understand(&content, &text, &alternatives);
            // What the caller said is personal data: its length only, never the words.
            tracing::info!(%call_id, job = id, chars = text.chars().count(), alternatives = alternatives.len(), intent = %understanding.intent, score = understanding.score, asr_ms, "recognized");
            let _ = results.send(Recognized { id, text, understanding, submitted, asr_ms });
        });
        Ok(())
    }

    fn cancel(&mut self, id: u64) {
        tracing::debug!(job = id, "recognition cancelled");
        if let Some(c) = self.jobs.remove(&id) {
            c.store(true, Ordering::Relaxed);
        }
    }
}

impl PoolRecognizer {
    pub fn cancel_all(&mut self) {
        for (_, c) in self.jobs.drain() {
            c.store(true, Ordering::Relaxed);
        }
    }
}

/// The matcher's spoken decision on a transcript and the recognizer's alternatives to it
/// (`nlu::Matcher::classify_heard`), as the dialogue's plain data; empty text (silence, a
/// guarded hallucination) is not understood.
pub fn understand(content: &LoadedContent, text: &str, alternatives: &[String]) -> Understanding {
    if text.trim().is_empty() {
        return Understanding::none();
    }
    match content.matcher.classify_heard(text, alternatives) {
        Ok(d) => Understanding { intent: d.intent, score: d.score, runner_up: d.runner_up.map(|r| r.intent), action: d.action },
        Err(e) => {
            tracing::warn!(error = %e, "matcher failed");
            Understanding::none()
        }
    }
}

/// Playback through the telephony commands. The telephony layer reports every play's end
/// exactly once and in order (a replaced play is reported as stopped), so a FIFO of ids
/// maps the reports back to the dialogue's play ids.
pub struct CommandPlayer {
    /// The content the call started with.
    pub(super) content: Arc<LoadedContent>,
    pub(super) commands: CallCommander,
    pub(super) pending: std::collections::VecDeque<(u64, String)>,
    /// When the current play was asked for (bench: answer latency).
    pub(crate) last_play: Option<(String, Instant)>,
}

impl Play for CommandPlayer {
    fn play(&mut self, id: u64, audio: &Audio, interruptible: bool) {
        let key = audio.key();
        let prompt = match self.content.clips.get(&key) {
            Some(p) => Arc::clone(p),
            None => {
                // Keep the flow going (the dialogue waits for this play's end): a short silence.
                tracing::warn!(%key, "clip missing, playing silence");
                Prompt::from_pcm(&key, &[0i16; 1600])
            }
        };
        tracing::info!(%key, interruptible, "play");
        self.pending.push_back((id, key.clone()));
        self.last_play = Some((key, Instant::now()));
        self.commands.send(CallCommand::Play { prompt, interruptible });
    }

    fn stop(&mut self) {
        self.commands.send(CallCommand::StopPlayback);
    }
}
