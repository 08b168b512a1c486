//! The live-path speech pieces on real audio: Silero VAD (candle) on an
//! Asterisk prompt vs silence and noise, streamed in 20 ms telephone frames
//! through the 8 → 16 kHz resampler; and the ASR pool with whisper workers.

use std::path::PathBuf;
use std::sync::Arc;

use ivr_speech::asr::{AsrConfig, Recognizer};
use ivr_speech::audio::resample::{resample, StreamResampler};
use ivr_speech::audio::wav::read_wav;
use ivr_speech::pool::{AsrPool, PoolError};
use ivr_speech::vad::{self, SileroVad};

const PROMPT: &str = "/usr/share/asterisk/sounds/fr/agent-newlocation.wav";

fn cache(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/cache").join(file)
}

fn load_vad() -> Arc<SileroVad> {
    SileroVad::load(&cache(vad::WEIGHTS_FILE)).expect("run models/fetch.sh first")
}

fn noise(n: usize, amp: f32) -> Vec<f32> {
    let mut seed = 0x1234_5678u32;
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed as f32 / u32::MAX as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

#[test]
fn vad_hears_speech_in_a_prompt_streamed_as_telephone_frames() {
    let vad = load_vad();
    let audio = read_wav(std::path::Path::new(PROMPT)).unwrap();
    assert_eq!(audio.rate, 8000);
    let mut resampler = StreamResampler::new(8000, 16000).unwrap();
    let mut stream = vad.stream().unwrap();
    let mut probs = Vec::new();
    for frame in audio.samples.chunks(160) {
        let pcm: Vec<i16> = frame.iter().map(|s| (s * 32767.0) as i16).collect();
        probs.extend(stream.push(&resampler.push_i16(&pcm)).unwrap());
    }
    let speechy = probs.iter().filter(|p| **p > 0.5).count() as f32 / probs.len() as f32;
    assert!(speechy > 0.5, "only {:.0} % of chunks heard as speech: {probs:?}", speechy * 100.0);
}

#[test]
fn vad_matches_reference_implementations_of_the_network() {
    let vad = load_vad();
    let audio = read_wav(std::path::Path::new(PROMPT)).unwrap();
    // Same 16 kHz signal as the reference: each 8 kHz sample twice.
    let pcm: Vec<f32> = audio
        .samples
        .iter()
        .flat_map(|s| {
            let v = f32::from((s * 32768.0).round() as i16) / 32768.0;
            [v, v]
        })
        .collect();
    let ours = vad::probabilities(&vad, &pcm).unwrap();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/audio/silero_reference_agent-newlocation.json");
    let refs: std::collections::BTreeMap<String, Vec<f32>> = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    // Same network, other implementation: equal up to float rounding.
    let reference = &refs["safetensors_reference"];
    assert_eq!(ours.len(), reference.len());
    let worst = ours.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst < 0.002, "largest difference from the reference: {worst}");
    // Upstream's ONNX export: the same speech/non-speech decisions almost everywhere.
    let onnx = &refs["onnx"];
    let disagree = ours.iter().zip(onnx).filter(|(a, b)| (**a > 0.5) != (**b > 0.5)).count();
    assert!(disagree * 50 <= onnx.len(), "{disagree} of {} chunks decided otherwise than ONNX", onnx.len());
}

#[test]
fn vad_stays_low_on_silence_and_steady_noise() {
    let vad = load_vad();
    let silence = vad::probabilities(&vad, &vec![0.0; 16000 * 2]).unwrap();
    assert!(silence.iter().all(|p| *p < 0.1), "{silence:?}");
    let hiss = vad::probabilities(&vad, &noise(16000 * 3, 0.05)).unwrap();
    let mean = hiss.iter().sum::<f32>() / hiss.len() as f32;
    assert!(mean < 0.3, "white noise heard as speech: mean {mean}");
}

#[test]
fn pool_transcribes_concurrently_and_reports_overload() {
    let recognizer = Recognizer::load(&cache("ggml-base-q8_0.bin"), AsrConfig { threads: 1, ..AsrConfig::default() }).expect("run models/fetch.sh first");
    let pool = AsrPool::whisper(&recognizer, 2, 1).unwrap();
    let audio = read_wav(std::path::Path::new("/usr/share/asterisk/sounds/fr/all-circuits-busy-now.wav")).unwrap();
    let pcm = resample(&audio.samples, 8000, 16000).unwrap();
    // Hand one utterance to each worker, waiting until each has taken its job.
    let taken = |pool: &AsrPool| {
        let t = std::time::Instant::now();
        while pool.load().queued > 0 && t.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    let a = pool.submit(pcm.clone()).unwrap();
    taken(&pool);
    let b = pool.submit(pcm.clone()).unwrap();
    taken(&pool);
    // Both workers busy for ~1 s or more; one queue slot: the next fits, the one after is refused.
    let c = pool.submit(pcm.clone());
    assert!(c.is_ok());
    assert_eq!(pool.submit(pcm.clone()).err(), Some(PoolError::Overloaded(1)));
    assert_eq!(pool.load().workers, 2);
    for h in [Some(a), Some(b), c.ok()].into_iter().flatten() {
        let r = h.wait().unwrap();
        let text = r.transcript.unwrap().text.to_lowercase();
        assert!(text.contains("lignes sont occupées"), "{text}");
    }
    // Cancel a speculative start: the result says so instead of a transcript.
    let spec = pool.submit(pcm).unwrap();
    spec.cancel();
    assert!(spec.wait().unwrap().transcript.is_err());
}
