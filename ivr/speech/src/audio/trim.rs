//! Energy-based trimming of leading/trailing non-speech for whole files, and
//! the "is there any speech at all" gate that keeps silence away from Whisper
//! (which invents text on it). The live path uses the neural VAD instead.

use std::ops::Range;

const FRAME_MS: usize = 20;
/// Frames this much louder than the file's noise floor count as speech…
const ABOVE_FLOOR_DB: f32 = 15.0;
/// …and never below this absolute level (digital silence has no floor).
const MIN_SPEECH_DBFS: f32 = -45.0;
/// Less voiced time than this is a click or a breath, not an utterance.
const MIN_SPEECH_MS: usize = 120;
const PAD_BEFORE_MS: usize = 150;
const PAD_AFTER_MS: usize = 250;

fn dbfs(frame: &[f32]) -> f32 {
    let energy = frame.iter().map(|s| s * s).sum::<f32>() / frame.len().max(1) as f32;
    10.0 * energy.max(1e-12).log10()
}

/// The sample range holding speech (with some padding), or `None` if the
/// signal holds none.
pub fn speech_range(samples: &[f32], rate: u32) -> Option<Range<usize>> {
    let frame = (rate as usize * FRAME_MS / 1000).max(1);
    let levels: Vec<f32> = samples.chunks(frame).map(dbfs).collect();
    if levels.is_empty() {
        return None;
    }
    let mut sorted = levels.clone();
    sorted.sort_by(f32::total_cmp);
    let floor = sorted[sorted.len() / 10];
    let threshold = (floor + ABOVE_FLOOR_DB).max(MIN_SPEECH_DBFS);
    let voiced: Vec<usize> = levels.iter().enumerate().filter(|(_, l)| **l > threshold).map(|(i, _)| i).collect();
    if voiced.len() * FRAME_MS < MIN_SPEECH_MS {
        return None;
    }
    let first = voiced.first()?;
    let last = voiced.last()?;
    let pad_before = rate as usize * PAD_BEFORE_MS / 1000;
    let pad_after = rate as usize * PAD_AFTER_MS / 1000;
    let start = (first * frame).saturating_sub(pad_before);
    let end = ((last + 1) * frame + pad_after).min(samples.len());
    Some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, amp: f32, seed: &mut u32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (*seed >> 8) as f32 / (1u32 << 24) as f32 * 2.0 * amp - amp
            })
            .collect()
    }

    #[test]
    fn digital_silence_and_faint_hiss_have_no_speech() {
        assert_eq!(speech_range(&vec![0.0; 16000], 16000), None);
        let mut seed = 1;
        assert_eq!(speech_range(&noise(16000, 0.003, &mut seed), 16000), None);
        assert_eq!(speech_range(&[], 16000), None);
    }

    #[test]
    fn a_burst_in_the_middle_is_kept_with_padding() {
        let mut seed = 7;
        let mut x = noise(16000, 0.002, &mut seed);
        for (i, s) in x.iter_mut().enumerate().take(10000).skip(6000) {
            *s += (i as f32 * 0.2).sin() * 0.3;
        }
        let r = speech_range(&x, 16000).unwrap();
        assert!(r.start <= 6000 && r.start >= 6000 - 2400 - 320, "{r:?}");
        assert!(r.end >= 10000 && r.end <= 10000 + 4000 + 320, "{r:?}");
    }
}
