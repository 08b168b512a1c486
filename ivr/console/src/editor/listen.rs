//! `/contenu/sujet/{slug}/ecouter.wav`: the draft's answer said by the production voice
//! (the one `ivr prompts render` uses: SVOX Pico, else espeak-ng), after the same
//! pronunciation rewrites, at the telephone's 8 kHz, as a WAV file. Synthesis runs on the
//! blocking pool; clips are kept in memory by hash of voice and spoken text.

use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ivr_dialogue::audio::{resample, PHONE_RATE};
use ivr_dialogue::tts::{default_voice, pronounce, Pcm, Voice};
use sha2::{Digest, Sha256};

use super::topic_file;
use super::working::{topic_path, valid_slug, Working};
use super::READ;
use crate::{AppState, Authed, ConsoleError};

/// Clips kept in memory (an answer is ~40 s at 8 kHz, 640 kB).
const KEPT: usize = 16;

type Clips = Mutex<Vec<(String, Arc<Vec<u8>>)>>;

fn clips() -> &'static Clips {
    static CLIPS: OnceLock<Clips> = OnceLock::new();
    CLIPS.get_or_init(|| Mutex::new(Vec::new()))
}

/// The voice, loaded once (Pico's files are read at each synthesis anyway).
fn voice() -> Result<&'static dyn Voice, ConsoleError> {
    static VOICE: OnceLock<Result<Box<dyn Voice>, String>> = OnceLock::new();
    match VOICE.get_or_init(|| default_voice().map_err(|e| e.to_string())) {
        Ok(v) => Ok(v.as_ref()),
        Err(e) => Err(ConsoleError::Internal(format!("no voice: {e}"))),
    }
}

/// A mono 16-bit PCM WAV file.
pub(crate) fn wav_bytes(pcm: &Pcm) -> Vec<u8> {
    let data_len = (pcm.samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&pcm.rate.to_le_bytes());
    out.extend_from_slice(&(pcm.rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in &pcm.samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// The WAV of `text` as the production voice says it.
pub(crate) async fn speak(text: &str) -> Result<Arc<Vec<u8>>, ConsoleError> {
    let spoken = pronounce::prepare(text.trim());
    let voice = voice()?;
    let key = hex::encode(Sha256::digest(format!("{}\n{spoken}", voice.id()).as_bytes()));
    let internal = |e: &dyn std::fmt::Display| ConsoleError::Internal(e.to_string());
    if let Some(hit) = clips().lock().map_err(|e| internal(&e))?.iter().find(|(k, _)| *k == key).map(|(_, c)| c.clone()) {
        return Ok(hit);
    }
    let wav = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ConsoleError> {
        let pcm = voice.synthesize(&spoken).map_err(|e| ConsoleError::Internal(e.to_string()))?;
        let pcm = resample(&pcm, PHONE_RATE).map_err(|e| ConsoleError::Internal(e.to_string()))?;
        Ok(wav_bytes(&pcm))
    })
    .await
    .map_err(|e| internal(&e))??;
    let wav = Arc::new(wav);
    let mut c = clips().lock().map_err(|e| internal(&e))?;
    c.push((key, wav.clone()));
    if c.len() > KEPT {
        c.remove(0);
    }
    Ok(wav)
}

pub async fn wav(State(state): State<AppState>, user: Authed, Path(slug): Path<String>) -> Result<Response, ConsoleError> {
    user.require(READ)?;
    let working = Working::load(&state).await?;
    let text = working.current().and_then(|s| s.files.get(&topic_path(&slug))).filter(|_| valid_slug(&slug)).ok_or(ConsoleError::NotFound)?;
    let answer = topic_file::read(text).map(|f| f.answer).unwrap_or_default();
    if !answer.chars().any(char::is_alphanumeric) {
        return Err(ConsoleError::NotFound);
    }
    let wav = speak(&answer).await?;
    Ok(([(header::CONTENT_TYPE, "audio/wav"), (header::CACHE_CONTROL, "private, max-age=300")], wav.as_ref().clone()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wav_header_says_what_follows() {
        let w = wav_bytes(&Pcm { rate: 8000, samples: vec![0, 1, -1, 2] });
        assert_eq!(&w[..4], b"RIFF");
        assert_eq!(&w[8..16], b"WAVEfmt ");
        assert_eq!(u32::from_le_bytes([w[24], w[25], w[26], w[27]]), 8000);
        assert_eq!(u32::from_le_bytes([w[40], w[41], w[42], w[43]]), 8);
        assert_eq!(w.len(), 44 + 8);
    }
}
