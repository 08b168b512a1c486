//! Pre-rendering of prompts and answers to 8 kHz WAV files under `prompts/audio/`,
//! cached by the hash of (voice id, render version, spoken text): only what changed is
//! synthesized again, so `scripts/setup.sh` can run it every time. A recording dropped in
//! `prompts/studio/` (named by [`studio_name`]) replaces the synthetic voice.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audio::{self, AudioError, PHONE_RATE};
use crate::policy::Audio;
use crate::tts::{pronounce, TtsError, Voice};

/// Bumped when pre-processing or resampling changes, to re-render everything.
pub const RENDER_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Tts(#[from] TtsError),
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RenderError + '_ {
    move |source| RenderError::Io { path: path.to_path_buf(), source }
}

/// One thing to render: its key (see [`Audio::key`]) and its written text.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderItem {
    pub key: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Tts,
    Studio,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub hash: String,
    /// File name inside the audio directory.
    pub file: String,
    pub ms: u64,
    pub source: Source,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub voice: String,
    pub entries: BTreeMap<String, Entry>,
}

impl Manifest {
    pub fn load(dir: &Path) -> Result<Manifest, RenderError> {
        let path = dir.join(MANIFEST);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| RenderError::Manifest { path, reason: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(io(&path)(e)),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct RenderReport {
    pub rendered: usize,
    pub cached: usize,
    pub studio: usize,
    pub failed: Vec<(String, String)>,
    pub removed_files: usize,
    /// Audio synthesized this run.
    pub rendered_ms: u64,
    /// All audio in the manifest.
    pub total_ms: u64,
    pub elapsed: Duration,
}

/// Studio file name for a key: `prompt/greeting_choix2` → `greeting_choix2.wav`,
/// `prompt/clarify#1` → `clarify.1.wav`, `answer/rsa` → `answer.rsa.wav`.
pub fn studio_name(key: &str) -> String {
    let base = key.strip_prefix("prompt/").map(str::to_string).unwrap_or_else(|| key.replace('/', "."));
    format!("{}.wav", base.replace('#', "."))
}

pub struct Renderer<'a> {
    pub voice: &'a dyn Voice,
    pub audio_dir: PathBuf,
    pub studio_dir: PathBuf,
}

impl Renderer<'_> {
    fn text_hash(&self, spoken: &str) -> String {
        let mut h = Sha256::new();
        h.update(format!("v{RENDER_VERSION}\0{}\0{spoken}", self.voice.id()).as_bytes());
        hex::encode(h.finalize())
    }

    /// Render every stale item, drop files no item uses, write the manifest.
    pub fn render_all(&self, items: &[RenderItem]) -> Result<RenderReport, RenderError> {
        let started = Instant::now();
        std::fs::create_dir_all(&self.audio_dir).map_err(io(&self.audio_dir))?;
        let old = Manifest::load(&self.audio_dir).unwrap_or_default();
        let mut manifest = Manifest { voice: self.voice.id(), entries: BTreeMap::new() };
        let mut report = RenderReport::default();
        for item in items {
            match self.render_one(item, &old) {
                Ok((entry, fresh)) => {
                    match (entry.source, fresh) {
                        (Source::Studio, _) => report.studio += 1,
                        (Source::Tts, true) => {
                            report.rendered += 1;
                            report.rendered_ms += entry.ms;
                        }
                        (Source::Tts, false) => report.cached += 1,
                    }
                    report.total_ms += entry.ms;
                    manifest.entries.insert(item.key.clone(), entry);
                }
                Err(e) => {
                    tracing::warn!(key = %item.key, error = %e, "render failed");
                    report.failed.push((item.key.clone(), e.to_string()));
                }
            }
        }
        let used: std::collections::HashSet<&str> = manifest.entries.values().map(|e| e.file.as_str()).collect();
        for entry in std::fs::read_dir(&self.audio_dir).map_err(io(&self.audio_dir))?.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".wav") && !used.contains(name.as_str()) && std::fs::remove_file(entry.path()).is_ok() {
                report.removed_files += 1;
            }
        }
        let path = self.audio_dir.join(MANIFEST);
        let text = serde_json::to_string_pretty(&manifest).map_err(|e| RenderError::Manifest { path: path.clone(), reason: e.to_string() })?;
        let tmp = self.audio_dir.join(format!("{MANIFEST}.tmp"));
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Returns the entry and whether it was synthesized now.
    fn render_one(&self, item: &RenderItem, old: &Manifest) -> Result<(Entry, bool), RenderError> {
        let studio = self.studio_dir.join(studio_name(&item.key));
        if studio.is_file() {
            let bytes = std::fs::read(&studio).map_err(io(&studio))?;
            let hash = hex::encode(Sha256::digest(&bytes));
            let file = format!("studio-{}.wav", &hash[..20]);
            let out = self.audio_dir.join(&file);
            if let Some(e) = cached(old, &item.key, &hash, &out) {
                return Ok((e, false));
            }
            let pcm = audio::resample(&audio::read_wav(&studio)?, PHONE_RATE)?;
            audio::write_wav(&out, &pcm)?;
            return Ok((Entry { hash, file, ms: pcm.duration_ms(), source: Source::Studio }, true));
        }
        let spoken = pronounce::prepare(&item.text);
        let hash = self.text_hash(&spoken);
        let file = format!("{}.wav", &hash[..20]);
        let out = self.audio_dir.join(&file);
        if let Some(e) = cached(old, &item.key, &hash, &out) {
            return Ok((e, false));
        }
        let pcm = self.voice.synthesize(&spoken)?;
        if pcm.samples.is_empty() {
            return Err(TtsError::Synthesis { voice: "render", reason: "no audio produced".into() }.into());
        }
        let pcm = audio::resample(&pcm, PHONE_RATE)?;
        audio::write_wav(&out, &pcm)?;
        Ok((Entry { hash, file, ms: pcm.duration_ms(), source: Source::Tts }, true))
    }
}

/// The old entry when the same hash already has its file (for any key: two keys with
/// the same text share one file).
fn cached(old: &Manifest, key: &str, hash: &str, out: &Path) -> Option<Entry> {
    if !out.is_file() {
        return None;
    }
    old.entries.get(key).filter(|e| e.hash == hash).or_else(|| old.entries.values().find(|e| e.hash == hash)).cloned()
}

/// Every rendered clip in memory, 8 kHz 16-bit, for the playback of a call.
#[derive(Debug, Default, Clone)]
pub struct AudioLibrary {
    clips: HashMap<String, Arc<[i16]>>,
}

impl AudioLibrary {
    /// Load what the manifest lists; a missing or unreadable file is skipped with a warning.
    pub fn load(audio_dir: &Path) -> Result<AudioLibrary, RenderError> {
        let manifest = Manifest::load(audio_dir)?;
        let mut clips = HashMap::new();
        for (key, entry) in manifest.entries {
            match audio::read_wav(&audio_dir.join(&entry.file)) {
                Ok(pcm) if pcm.rate == PHONE_RATE => {
                    clips.insert(key, Arc::from(pcm.samples));
                }
                Ok(pcm) => tracing::warn!(%key, rate = pcm.rate, "clip is not 8 kHz, skipped"),
                Err(e) => tracing::warn!(%key, error = %e, "clip unreadable, skipped"),
            }
        }
        Ok(AudioLibrary { clips })
    }

    pub fn get(&self, audio: &Audio) -> Option<Arc<[i16]>> {
        self.clips.get(&audio.key()).cloned()
    }

    pub fn len(&self) -> usize {
        self.clips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }
}
