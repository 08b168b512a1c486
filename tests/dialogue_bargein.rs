//! False and true barge-ins with the real Silero VAD feeding the endpointer: a noise
//! set built here (clicks, coughs, breath, crackle, hum, noise) played over a prompt
//! must not interrupt it; real French speech (Asterisk's fr prompts) must, within 200 ms
//! of the first voiced frame. Prints the figures.

use std::path::Path;
use std::time::Duration;

use ivr_dialogue::audio::{read_wav, resample};
use ivr_dialogue::endpointing::{EndpointEvent, Endpointer, EndpointingConfig};
use ivr_speech::vad::{default_weights_path, probabilities, SileroVad};

const RATE: f32 = 16_000.0;
/// Silero scores 512-sample chunks at 16 kHz.
const FRAME_MS: u64 = 32;

/// Tiny deterministic generator so the noise set is the same on every run.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
    }
}

fn silence(ms: usize) -> Vec<f32> {
    vec![0.0; ms * 16]
}

fn noise_set() -> Vec<(String, Vec<f32>)> {
    let mut rng = Lcg(7);
    let mut set = Vec::new();
    for (i, amp) in [0.3f32, 0.6, 0.9].iter().enumerate() {
        // Click: a few ms of full-scale impulse.
        let mut s = silence(300);
        s.extend((0..48).map(|k| if k % 2 == 0 { *amp } else { -*amp }));
        s.extend(silence(700));
        set.push((format!("click-{i}"), s));
        // Cough: a noise burst with a fast attack and decay, 150–250 ms.
        for len in [150usize, 250] {
            let n = len * 16;
            let mut s = silence(300);
            s.extend((0..n).map(|k| {
                let t = k as f32 / n as f32;
                rng.next() * amp * (t * 20.0).min(1.0) * (1.0 - t).powi(2)
            }));
            s.extend(silence(700));
            set.push((format!("cough-{len}ms-{i}"), s));
        }
        // Breath: 400 ms of soft low-passed noise.
        let mut last = 0.0;
        let mut s = silence(300);
        s.extend((0..6400).map(|_| {
            last = 0.95 * last + 0.05 * rng.next();
            last * amp
        }));
        s.extend(silence(700));
        set.push((format!("breath-{i}"), s));
        // Crackle: random impulses for one second.
        let mut s = silence(300);
        s.extend((0..16_000).map(|_| if rng.next() > 0.995 { rng.next() * amp } else { 0.0 }));
        set.push((format!("crackle-{i}"), s));
        // Mains hum and its harmonics for one second.
        let s: Vec<f32> = (0..16_000)
            .map(|k| {
                let t = k as f32 / RATE;
                amp * 0.5 * ((2.0 * std::f32::consts::PI * 50.0 * t).sin() + 0.3 * (2.0 * std::f32::consts::PI * 150.0 * t).sin())
            })
            .collect();
        set.push((format!("hum-{i}"), s));
        // Steady white line noise for one second.
        let s: Vec<f32> = (0..16_000).map(|_| rng.next() * amp * 0.3).collect();
        set.push((format!("white-{i}"), s));
    }
    set
}

/// Run the endpointer over a clip "under a prompt": returns the barge-in time, if any,
/// and the time of the first voiced frame.
fn barge_in(probs: &[f32], barge_in_ms: u64) -> (Option<u64>, Option<u64>) {
    let cfg = EndpointingConfig { frame_ms: FRAME_MS, barge_in_ms, ..EndpointingConfig::default() };
    let threshold = cfg.threshold;
    let mut ep = Endpointer::new(cfg);
    ep.set_playing(Some(true));
    let first_voiced = probs.iter().position(|p| *p >= threshold).map(|i| i as u64 * FRAME_MS);
    for (i, p) in probs.iter().enumerate() {
        let now = Duration::from_millis((i as u64 + 1) * FRAME_MS);
        for e in ep.push(*p, now) {
            if let EndpointEvent::BargeIn { at, .. } = e {
                return (Some(at.as_millis() as u64), first_voiced);
            }
        }
    }
    (None, first_voiced)
}

#[test]
fn false_and_true_barge_ins_with_silero() {
    let vad = SileroVad::load(&default_weights_path()).expect("Silero VAD weights (scripts/setup.sh fetches them)");
    let noises: Vec<(String, Vec<f32>)> = noise_set().into_iter().map(|(name, pcm)| (name, probabilities(&vad, &pcm).unwrap())).collect();
    let dir = Path::new("/usr/share/asterisk/sounds/fr");
    let mut files: Vec<_> = std::fs::read_dir(dir).expect("asterisk-core-sounds-fr-wav").filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    let mut speech = Vec::new();
    for path in files.iter().filter(|p| p.extension().is_some_and(|x| x == "wav")).step_by(8).take(40) {
        let Ok(pcm) = read_wav(path) else { continue };
        let Ok(pcm) = resample(&pcm, 16_000) else { continue };
        if pcm.samples.len() < 16_000 {
            continue; // under a second: single words, not a barge-in case
        }
        let f: Vec<f32> = pcm.samples.iter().map(|s| f32::from(*s) / 32768.0).collect();
        speech.push(probabilities(&vad, &f).unwrap());
    }
    // The default and shorter settings, to see the margin against false barge-ins.
    for barge_in_ms in [EndpointingConfig::default().barge_in_ms, 160, 128] {
        let false_hits: Vec<&str> = noises.iter().filter(|(_, p)| barge_in(p, barge_in_ms).0.is_some()).map(|(n, _)| n.as_str()).collect();
        let mut latencies: Vec<u64> = speech
            .iter()
            .filter_map(|p| match barge_in(p, barge_in_ms) {
                (Some(at), Some(onset)) => Some(at - onset),
                _ => None,
            })
            .collect();
        latencies.sort();
        let detected = latencies.len();
        let pct = |q: usize| latencies.get((latencies.len() * q / 100).min(latencies.len().saturating_sub(1))).copied().unwrap_or(0);
        println!(
            "barge_in_ms {barge_in_ms}: false {}/{} noises {:?}; speech detected {}/{}; stop after first voiced frame p50 {} ms, p90 {} ms, max {} ms",
            false_hits.len(),
            noises.len(),
            false_hits,
            detected,
            speech.len(),
            pct(50),
            pct(90),
            pct(100)
        );
        assert!(false_hits.len() * 10 <= noises.len(), "more than 10 % false barge-ins: {false_hits:?}");
        assert!(speech.len() >= 20 && detected * 10 >= speech.len() * 9, "speech barge-ins {detected}/{}", speech.len());
        assert!(pct(50) <= barge_in_ms + FRAME_MS, "median barge-in {} ms after onset", pct(50));
        if barge_in_ms == EndpointingConfig::default().barge_in_ms {
            assert!(pct(50) <= 200, "default setting stops the prompt {} ms after onset", pct(50));
        }
    }
}
