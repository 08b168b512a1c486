//! What the recognizer hesitated about. whisper.cpp returns only its best hypothesis, but
//! its logits filter callback sees the whole distribution at every decoding step; the
//! runner-up tokens of the uncertain steps give alternative transcripts ("prín" → "prime"),
//! which the matcher may read when the best one names no topic (`nlu::Matcher::classify_heard`).
//!
//! The log is filled by a C callback during `whisper_full` and read after it; the
//! alternatives are built here, without whisper, so they are unit-tested.

use std::sync::Mutex;

/// Candidates kept per decoding step (the chosen token and its runners-up): whisper.cpp
/// suppresses some tokens after the callback (non-speech symbols), so a few are kept.
pub const CANDIDATES: usize = 5;
/// A runner-up token this probable at its step makes an alternative.
pub const MIN_PROBABILITY: f32 = 0.10;
/// Alternatives per transcript, the most probable first.
pub const MAX_ALTERNATIVES: usize = 5;

/// One decoding step: the most probable tokens, with their probabilities.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    pub candidates: Vec<(i32, f32)>,
}

/// The steps of one decoding pass, indexed by the number of tokens decoded before them.
#[derive(Debug, Default)]
pub struct StepLog {
    pub n_vocab: usize,
    pub steps: Mutex<Vec<Step>>,
}

impl StepLog {
    pub fn new(n_vocab: usize) -> Self {
        StepLog { n_vocab, steps: Mutex::new(Vec::new()) }
    }

    /// Records the distribution of step `index` (a new pass starts again at 0).
    pub fn record(&self, index: usize, logits: &[f32]) {
        let step = top_candidates(logits, CANDIDATES);
        let Ok(mut steps) = self.steps.lock() else { return };
        if index == 0 {
            steps.clear();
        }
        if steps.len() > index {
            steps.truncate(index);
        }
        while steps.len() < index {
            steps.push(Step::default());
        }
        steps.push(step);
    }

    pub fn take(&self) -> Vec<Step> {
        self.steps.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
    }
}

/// The `k` most probable finite logits as (token, probability), softmax over all of them.
pub fn top_candidates(logits: &[f32], k: usize) -> Step {
    let max = logits.iter().copied().filter(|l| l.is_finite()).fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return Step::default();
    }
    let mut sum = 0f32;
    let mut top: Vec<(i32, f32)> = Vec::with_capacity(k + 1);
    for (i, &l) in logits.iter().enumerate() {
        if !l.is_finite() {
            continue;
        }
        sum += (l - max).exp();
        if top.len() < k || l > top[top.len() - 1].1 {
            let at = top.iter().position(|&(_, t)| l > t).unwrap_or(top.len());
            top.insert(at, (i as i32, l));
            top.truncate(k);
        }
    }
    let candidates = top.into_iter().map(|(i, l)| (i, (l - max).exp() / sum)).collect();
    Step { candidates }
}

/// Alternative raw texts: the decoded `tokens` (text tokens only, in order) with one
/// uncertain token replaced by a runner-up that is a word piece, the most probable
/// replacements first, each giving other words than the best text and the alternatives
/// before it. `text_of` gives a token's bytes, or `None` for a special or non-speech token.
pub fn alternatives(tokens: &[i32], steps: &[Step], text_of: &dyn Fn(i32) -> Option<Vec<u8>>) -> Vec<String> {
    // Align each decoded token with the step that chose it.
    let mut cursor = 0usize;
    let mut swaps: Vec<(usize, i32, f32)> = Vec::new();
    for (j, &t) in tokens.iter().enumerate() {
        let Some(k) = (cursor..steps.len()).find(|&k| steps[k].candidates.iter().any(|&(c, _)| c == t)) else { continue };
        cursor = k + 1;
        let runners = steps[k].candidates.iter().filter(|&&(c, p)| c != t && p >= MIN_PROBABILITY && text_of(c).is_some_and(|b| is_word_piece(&b)));
        swaps.extend(runners.map(|&(c, p)| (j, c, p)));
    }
    swaps.sort_by(|a, b| b.2.total_cmp(&a.2));
    let pieces: Vec<Vec<u8>> = tokens.iter().map(|&t| text_of(t).unwrap_or_default()).collect();
    let best = String::from_utf8_lossy(&pieces.concat()).into_owned();
    // Other case or punctuation ("Internet", "internet.") is not another thing heard.
    let mut seen = vec![words_of(&best)];
    let mut out: Vec<String> = Vec::new();
    for (j, c, _) in swaps {
        let mut bytes = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            if i == j {
                bytes.extend(text_of(c).unwrap_or_default());
            } else {
                bytes.extend_from_slice(p);
            }
        }
        let alt = String::from_utf8_lossy(&bytes).into_owned();
        let words = words_of(&alt);
        if !seen.contains(&words) {
            seen.push(words);
            out.push(alt);
        }
        if out.len() == MAX_ALTERNATIVES {
            break;
        }
    }
    out
}

/// The words of a text, lower-case, without punctuation.
fn words_of(text: &str) -> String {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// A token that can stand in a word: it has a letter or a digit.
fn is_word_piece(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes).chars().any(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(t: i32) -> Option<Vec<u8>> {
        let s = match t {
            1 => " la",
            2 => " pr",
            3 => "ín",
            4 => "ime",
            5 => " d'activité",
            6 => "(",
            7 => " de",
            100 => return None,
            _ => return None,
        };
        Some(s.as_bytes().to_vec())
    }

    fn step(c: &[(i32, f32)]) -> Step {
        Step { candidates: c.to_vec() }
    }

    #[test]
    fn top_candidates_are_ordered_probabilities() {
        let logits = [0.0, 2.0, f32::NEG_INFINITY, 1.0, -1.0];
        let s = top_candidates(&logits, 2);
        assert_eq!(s.candidates.iter().map(|c| c.0).collect::<Vec<_>>(), vec![1, 3]);
        let total: f32 = [0.0f32, 2.0, 1.0, -1.0].iter().map(|l| (l - 2.0).exp()).sum();
        assert!((s.candidates[0].1 - 1.0 / total).abs() < 1e-6);
        assert!(top_candidates(&[f32::NEG_INFINITY; 3], 2).candidates.is_empty());
    }

    #[test]
    fn an_uncertain_piece_gives_the_word_it_could_have_been() {
        let tokens = [1, 2, 3, 5];
        let steps = vec![step(&[(1, 0.9)]), step(&[(2, 0.8)]), step(&[(3, 0.5), (6, 0.3), (4, 0.15)]), step(&[(5, 0.95), (7, 0.04)])];
        let alts = alternatives(&tokens, &steps, &vocab);
        // "(" is not a word piece; "de" is too improbable.
        assert_eq!(alts, vec![" la prime d'activité".to_string()]);
    }

    #[test]
    fn another_case_or_punctuation_is_not_an_alternative() {
        let vocab = |t: i32| match t {
            1 => Some(b" sur".to_vec()),
            2 => Some(b" internet".to_vec()),
            3 => Some(b" Internet".to_vec()),
            4 => Some(b" intranet".to_vec()),
            _ => None,
        };
        let steps = vec![step(&[(1, 0.99)]), step(&[(2, 0.5), (3, 0.3), (4, 0.15)])];
        // "Internet" is the same word: the next runner-up is tried.
        assert_eq!(alternatives(&[1, 2], &steps, &vocab), vec![" sur intranet".to_string()]);
    }

    #[test]
    fn confident_steps_give_nothing_and_misaligned_logs_are_skipped() {
        let tokens = [1, 2, 3];
        let confident = vec![step(&[(1, 0.99)]), step(&[(2, 0.97), (7, 0.02)]), step(&[(3, 0.96)])];
        assert!(alternatives(&tokens, &confident, &vocab).is_empty());
        // A step log that does not hold the decoded tokens (another pass) yields nothing.
        assert!(alternatives(&tokens, &[step(&[(5, 0.5), (4, 0.4)])], &vocab).is_empty());
    }

    #[test]
    fn the_log_restarts_with_each_pass() {
        let log = StepLog::new(3);
        log.record(0, &[1.0, 0.0, 0.0]);
        log.record(1, &[0.0, 1.0, 0.0]);
        log.record(0, &[0.0, 0.0, 1.0]);
        let steps = log.take();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].candidates[0].0, 2);
    }
}
