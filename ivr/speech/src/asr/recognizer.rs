//! The whisper-rs recognizer. `Recognizer` owns the model (an `Arc`'d
//! whisper.cpp context, loaded once); each `AsrWorker` owns a decoding state,
//! so N workers run N utterances in parallel over one copy of the weights.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

use super::alternatives::{self as hesitations, StepLog};
use super::guard;
use crate::audio::MODEL_RATE;

#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    #[error("cannot load Whisper model {path}: {message}")]
    Load { path: String, message: String },
    #[error("whisper: {0}")]
    Whisper(String),
    #[error("recognition cancelled")]
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoding {
    Greedy,
    Beam(u8),
}

/// `Plain` is whisper.cpp's default decoding (timestamps, multi-segment,
/// temperature fallback): the benchmark's baseline. `Tuned` is what the bot uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Plain,
    Tuned,
}

#[derive(Debug, Clone)]
pub struct AsrConfig {
    pub threads: usize,
    pub decoding: Decoding,
    pub preset: Preset,
    pub language: String,
    pub initial_prompt: Option<String>,
    /// Encoder window in frames (1500 = 30 s). Kept full by default: fitting it
    /// to the utterance made the decoder loop (DESIGN.md §5).
    pub audio_ctx: Option<u16>,
    /// Least cap on generated tokens; raised with the utterance's length. It
    /// bounds the damage of a decoder loop.
    pub max_tokens: u16,
    /// whisper.cpp's flash attention (a context setting, fixed when the model loads).
    pub flash_attn: bool,
    /// Read each decoding step's runner-up tokens and build alternative transcripts
    /// (greedy decoding only; `ivr bench asr` measures the cost with `-noalt`).
    pub alternatives: bool,
}

impl Default for AsrConfig {
    fn default() -> Self {
        AsrConfig {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()).min(8),
            decoding: Decoding::Greedy,
            preset: Preset::Tuned,
            language: "fr".into(),
            initial_prompt: None,
            audio_ctx: None,
            max_tokens: 48,
            flash_attn: false,
            alternatives: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// Cleaned text (empty for non-speech).
    pub text: String,
    /// What Whisper returned before the guard.
    pub raw_text: String,
    pub audio_ms: u64,
    pub asr_ms: u64,
    pub no_speech_prob: f32,
    /// Cleaned alternative texts: the best one with an uncertain token replaced by its
    /// runner-up (greedy decoding only; see `alternatives`). Personal data, as `text`.
    pub alternatives: Vec<String>,
}

#[derive(Clone)]
pub struct Recognizer {
    ctx: Arc<WhisperContext>,
    config: AsrConfig,
}

impl Recognizer {
    pub fn load(path: &Path, config: AsrConfig) -> Result<Self, AsrError> {
        let err = |message: String| AsrError::Load { path: path.display().to_string(), message };
        if !path.is_file() {
            return Err(err("no such file (run models/fetch.sh)".into()));
        }
        // whisper.cpp prints its load report on stderr; without a log backend
        // enabled these hooks discard it, keeping stdout/stderr for our output.
        whisper_rs::install_logging_hooks();
        let path_str = path.to_str().ok_or_else(|| err("path is not UTF-8".into()))?;
        let mut params = WhisperContextParameters::default();
        params.flash_attn(config.flash_attn);
        let ctx = WhisperContext::new_with_params(path_str, params).map_err(|e| err(e.to_string()))?;
        Ok(Recognizer { ctx: Arc::new(ctx), config })
    }

    pub fn config(&self) -> &AsrConfig {
        &self.config
    }

    /// Same model, other settings (the benchmark compares presets on one load).
    pub fn with_config(&self, config: AsrConfig) -> Self {
        Recognizer { ctx: Arc::clone(&self.ctx), config }
    }

    pub fn worker(&self) -> Result<AsrWorker, AsrError> {
        let state = self.ctx.create_state().map_err(|e| AsrError::Whisper(e.to_string()))?;
        Ok(AsrWorker { state, ctx: Arc::clone(&self.ctx), config: self.config.clone() })
    }
}

pub struct AsrWorker {
    state: WhisperState,
    ctx: Arc<WhisperContext>,
    config: AsrConfig,
}

const TOKENS_PER_SECOND: u64 = 10;
/// Half the decoder context, whisper's own limit for one window.
const MAX_TOKENS_CAP: u16 = 224;

/// whisper.cpp refuses input under one second; short answers ("oui") are padded.
const MIN_SAMPLES: usize = MODEL_RATE as usize * 1100 / 1000;

impl AsrWorker {
    pub fn config(&self) -> &AsrConfig {
        &self.config
    }

    /// Recognizes 16 kHz mono speech (already VAD- or trim-gated).
    pub fn transcribe(&mut self, pcm16k: &[f32]) -> Result<Transcript, AsrError> {
        self.transcribe_cancellable(pcm16k, None)
    }

    /// As `transcribe`; setting `cancel` stops the decoder at its next check
    /// (speculative starts that the caller's continued speech made useless).
    pub fn transcribe_cancellable(&mut self, pcm16k: &[f32], cancel: Option<Arc<AtomicBool>>) -> Result<Transcript, AsrError> {
        let started = Instant::now();
        let audio_ms = pcm16k.len() as u64 * 1000 / u64::from(MODEL_RATE);
        let padded;
        let mut input = pcm16k;
        if input.len() < MIN_SAMPLES {
            let mut p = input.to_vec();
            p.resize(MIN_SAMPLES, 0.0);
            padded = p;
            input = &padded;
        }
        let mut config = self.config.clone();
        // The token cap grows with the utterance (French speech is ~6 tokens/s):
        // a fixed cap cut long sentences short, none at all lets a loop run on.
        let per_audio = (audio_ms / 1000 + 1) * TOKENS_PER_SECOND;
        config.max_tokens = config.max_tokens.max(per_audio.min(u64::from(MAX_TOKENS_CAP)) as u16);
        // The steps' distributions, for the alternatives (greedy: one decoder, one pass).
        let log = (config.alternatives && config.decoding == Decoding::Greedy).then(|| StepLog::new(self.ctx.n_vocab().max(0) as usize));
        let params = full_params(&config, cancel.as_ref(), log.as_ref());
        let result = self.state.full(params, input);
        if cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(AsrError::Cancelled);
        }
        result.map_err(|e| AsrError::Whisper(e.to_string()))?;
        let mut raw_text = String::new();
        let mut no_speech_prob = 0f32;
        let eot = self.ctx.token_eot();
        let mut tokens = Vec::new();
        for segment in self.state.as_iter() {
            raw_text.push_str(&segment.to_str_lossy().map_err(|e| AsrError::Whisper(e.to_string()))?);
            no_speech_prob = no_speech_prob.max(segment.no_speech_probability());
            if log.is_some() {
                tokens.extend((0..segment.n_tokens()).filter_map(|i| segment.get_token(i)).map(|t| t.token_id()).filter(|&id| id < eot));
            }
        }
        let mut text = guard::clean(&raw_text);
        let mut alternatives = Vec::new();
        if guard::is_no_speech(no_speech_prob, &text) {
            text.clear();
        } else if let Some(log) = &log {
            let ctx = &self.ctx;
            let text_of = |id: i32| (id < eot).then(|| ctx.token_to_bytes(id).ok().map(<[u8]>::to_vec)).flatten();
            for alt in hesitations::alternatives(&tokens, &log.take(), &text_of) {
                let clean = guard::clean(&alt);
                if !clean.is_empty() && clean != text && !alternatives.contains(&clean) {
                    alternatives.push(clean);
                }
            }
        }
        Ok(Transcript { text, raw_text, audio_ms, asr_ms: started.elapsed().as_millis() as u64, no_speech_prob, alternatives })
    }
}

fn full_params<'a>(c: &'a AsrConfig, cancel: Option<&Arc<AtomicBool>>, log: Option<&StepLog>) -> FullParams<'a, 'a> {
    let strategy = match c.decoding {
        Decoding::Greedy => SamplingStrategy::Greedy { best_of: 1 },
        Decoding::Beam(n) => SamplingStrategy::BeamSearch { beam_size: i32::from(n.max(1)), patience: -1.0 },
    };
    let mut p = FullParams::new(strategy);
    p.set_n_threads(c.threads.max(1) as i32);
    p.set_language(Some(&c.language));
    p.set_translate(false);
    p.set_print_special(false);
    p.set_print_progress(false);
    p.set_print_realtime(false);
    p.set_print_timestamps(false);
    if let Some(prompt) = &c.initial_prompt {
        p.set_initial_prompt(prompt);
    }
    if let Some(ctx) = c.audio_ctx {
        p.set_audio_ctx(i32::from(ctx));
    }
    if c.preset == Preset::Tuned {
        // One short utterance per call: no timestamps to predict, no
        // carried context, no re-decoding at higher temperatures (each
        // fallback is a full decoder pass; greedy at T=0 is deterministic).
        p.set_single_segment(true);
        p.set_no_timestamps(true);
        p.set_no_context(true);
        p.set_suppress_blank(true);
        p.set_suppress_nst(true);
        p.set_temperature(0.0);
        p.set_temperature_inc(0.0);
        p.set_max_tokens(i32::from(c.max_tokens));
    }
    if let Some(flag) = cancel {
        // whisper-rs 0.16's `set_abort_callback_safe` casts its boxed closure
        // back to the wrong type (aborting at random), so the raw hook is used.
        // SAFETY: the pointer is to the AtomicBool inside an Arc that the
        // caller of `full` keeps alive (`transcribe_cancellable` holds `cancel`
        // until `full` returns); the callback only loads it.
        unsafe {
            p.set_abort_callback(Some(abort_when_set));
            p.set_abort_callback_user_data(Arc::as_ptr(flag) as *mut std::ffi::c_void);
        }
    }
    if let Some(log) = log {
        // SAFETY: the pointer is to a StepLog that `transcribe_cancellable` keeps alive
        // until `full` returns; the callback only reads the logits and locks the log.
        unsafe {
            p.set_filter_logits_callback(Some(record_step));
            p.set_filter_logits_callback_user_data(log as *const StepLog as *mut std::ffi::c_void);
        }
    }
    p
}

unsafe extern "C" fn record_step(
    _ctx: *mut whisper_rs::WhisperSysContext,
    _state: *mut whisper_rs::WhisperSysState,
    _tokens: *const whisper_rs::WhisperTokenData,
    n_tokens: std::os::raw::c_int,
    logits: *mut f32,
    user_data: *mut std::ffi::c_void,
) {
    if user_data.is_null() || logits.is_null() {
        return;
    }
    // SAFETY: see `full_params`: user_data points at a live StepLog, and whisper.cpp
    // passes one logit per vocabulary token (n_vocab, recorded in the log).
    unsafe {
        let log = &*(user_data as *const StepLog);
        let logits = std::slice::from_raw_parts(logits as *const f32, log.n_vocab);
        log.record(n_tokens.max(0) as usize, logits);
    }
}

unsafe extern "C" fn abort_when_set(user_data: *mut std::ffi::c_void) -> bool {
    // SAFETY: see `full_params`: user_data points at a live AtomicBool.
    unsafe { (*(user_data as *const AtomicBool)).load(Ordering::Relaxed) }
}
