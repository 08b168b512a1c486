//! Prompts held in memory as ready-to-send 20 ms G.711 frames for both codecs,
//! so playback costs one copy per frame and no encoding during calls.

use std::path::Path;
use std::sync::Arc;

use crate::rtp::g711;
use crate::sdp::Codec;

pub const SAMPLES_PER_FRAME: usize = 160;
pub const FRAME_MS: u64 = 20;

#[derive(Debug)]
pub struct Prompt {
    pub id: String,
    pcma: Vec<[u8; SAMPLES_PER_FRAME]>,
    pcmu: Vec<[u8; SAMPLES_PER_FRAME]>,
}

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("cannot read prompt {path}: {source}")]
    Read { path: String, source: hound::Error },
    #[error("prompt {path} must be 8000 Hz mono 16-bit PCM, found {rate} Hz, {channels} channel(s), {bits} bits")]
    Format { path: String, rate: u32, channels: u16, bits: u16 },
}

impl Prompt {
    /// Builds a prompt from 8 kHz samples; the last frame is padded with silence.
    pub fn from_pcm(id: &str, samples: &[i16]) -> Arc<Prompt> {
        let mut pcma = Vec::with_capacity(samples.len() / SAMPLES_PER_FRAME + 1);
        let mut pcmu = Vec::with_capacity(pcma.capacity());
        let mut buf = Vec::with_capacity(SAMPLES_PER_FRAME);
        for chunk in samples.chunks(SAMPLES_PER_FRAME) {
            let mut frame = [0i16; SAMPLES_PER_FRAME];
            frame[..chunk.len()].copy_from_slice(chunk);
            for (codec, dst) in [(Codec::Pcma, &mut pcma), (Codec::Pcmu, &mut pcmu)] {
                buf.clear();
                g711::encode(codec, &frame, &mut buf);
                let mut out = [0u8; SAMPLES_PER_FRAME];
                out.copy_from_slice(&buf);
                dst.push(out);
            }
        }
        Arc::new(Prompt { id: id.to_string(), pcma, pcmu })
    }

    /// Loads an 8 kHz mono 16-bit WAV file.
    pub fn from_wav(id: &str, path: &Path) -> Result<Arc<Prompt>, PromptError> {
        let p = path.display().to_string();
        let reader = hound::WavReader::open(path).map_err(|source| PromptError::Read { path: p.clone(), source })?;
        let spec = reader.spec();
        if spec.sample_rate != 8000 || spec.channels != 1 || spec.bits_per_sample != 16 || spec.sample_format != hound::SampleFormat::Int {
            return Err(PromptError::Format { path: p, rate: spec.sample_rate, channels: spec.channels, bits: spec.bits_per_sample });
        }
        let samples: Result<Vec<i16>, _> = reader.into_samples::<i16>().collect();
        let samples = samples.map_err(|source| PromptError::Read { path: p, source })?;
        Ok(Self::from_pcm(id, &samples))
    }

    /// A sine tone, used as the built-in greeting when no prompt file exists.
    pub fn tone(id: &str, hz: f32, ms: u64, amplitude: i16) -> Arc<Prompt> {
        let n = (ms * 8) as usize;
        let samples: Vec<i16> = (0..n).map(|i| ((i as f32 * hz * std::f32::consts::TAU / 8000.0).sin() * amplitude as f32) as i16).collect();
        Self::from_pcm(id, &samples)
    }

    pub fn frames(&self) -> usize {
        self.pcma.len()
    }

    pub fn duration_ms(&self) -> u64 {
        self.frames() as u64 * FRAME_MS
    }

    pub fn frame(&self, codec: Codec, i: usize) -> Option<&[u8; SAMPLES_PER_FRAME]> {
        match codec {
            Codec::Pcma => self.pcma.get(i),
            Codec::Pcmu => self.pcmu.get(i),
        }
    }
}
