//! Word error rate on the Debian Asterisk French prompts (real human speech at
//! 8 kHz, `asterisk-core-sounds-fr-wav`) against their transcripts
//! (`core-sounds-fr.txt.gz` of `asterisk-core-sounds-fr`).
//!
//! Normalization, applied to reference and hypothesis alike: lower case;
//! apostrophes and hyphens split words ("l'instant" → "l instant"); every other
//! punctuation mark removed; digits written out in French words ("1" → "un",
//! "24" → "vingt quatre"), since the references mix both ("appuyez sur 1",
//! "appuyez sur deux"); accents kept.

use std::io::Read;
use std::path::{Path, PathBuf};

pub const DEFAULT_SOUNDS_DIR: &str = "/usr/share/asterisk/sounds/fr";
pub const DEFAULT_TRANSCRIPTS: &str = "/usr/share/doc/asterisk-core-sounds-fr/core-sounds-fr.txt.gz";

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub name: String,
    pub wav: PathBuf,
    pub reference: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

/// Prompts that have a spoken transcript and a WAV file, sorted by name.
/// Entries that describe sounds ("[ascending tones]", "(ahooga)") are skipped.
pub fn load_asterisk_corpus(sounds_dir: &Path, transcripts: &Path) -> Result<Vec<Item>, EvalError> {
    let err = |message: String| EvalError::File { path: transcripts.display().to_string(), message };
    let raw = std::fs::read(transcripts).map_err(|e| err(e.to_string()))?;
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_string(&mut s).map_err(|e| err(e.to_string()))?;
        s
    } else {
        String::from_utf8(raw).map_err(|e| err(e.to_string()))?
    };
    let mut items: Vec<Item> = text
        .lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| l.split_once(": "))
        .map(|(name, reference)| (name.trim(), reference.trim()))
        .filter(|(_, r)| !r.is_empty() && !r.starts_with('[') && !r.starts_with('('))
        .filter(|(_, r)| !normalize(r).is_empty())
        .map(|(name, reference)| Item { name: name.to_string(), wav: sounds_dir.join(format!("{name}.wav")), reference: reference.to_string() })
        .filter(|item| item.wav.is_file())
        .collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(items)
}

/// `n` items spread evenly over the sorted corpus (every k-th), so a quick run
/// samples the whole alphabet of prompts rather than its first letters.
pub fn spread<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if n == 0 || n >= items.len() {
        return items.to_vec();
    }
    (0..n).map(|i| items[i * items.len() / n].clone()).collect()
}

pub fn normalize(text: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(text.len() + 8);
    let mut prev_digit = None;
    for c in text.to_lowercase().chars() {
        let c = match c {
            '\'' | '’' | '-' | '‐' | '–' | '—' | '/' => ' ',
            c if c.is_alphanumeric() || c.is_whitespace() => c,
            _ => ' ',
        };
        // "9h30" → "9 h 30": digits and letters become separate words.
        let is_digit = c.is_ascii_digit();
        if let Some(was_digit) = prev_digit {
            if was_digit != is_digit && !c.is_whitespace() {
                spaced.push(' ');
            }
        }
        prev_digit = if c.is_whitespace() { None } else { Some(is_digit) };
        spaced.push(c);
    }
    spaced
        .split_whitespace()
        .flat_map(|w| match w.parse::<u64>() {
            Ok(n) if w.len() <= 9 => french_number(n).split(' ').map(String::from).collect::<Vec<_>>(),
            _ => vec![w.to_string()],
        })
        .collect()
}

/// French cardinal in words, hyphens as spaces (the normalization splits them anyway).
pub fn french_number(n: u64) -> String {
    const UNITS: [&str; 17] =
        ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze", "treize", "quatorze", "quinze", "seize"];
    const TENS: [&str; 7] = ["", "", "vingt", "trente", "quarante", "cinquante", "soixante"];
    fn below_100(n: u64) -> String {
        match n {
            0..=16 => UNITS[n as usize].to_string(),
            17..=19 => format!("dix {}", UNITS[(n - 10) as usize]),
            20..=69 => {
                let (t, u) = (n / 10, n % 10);
                match u {
                    0 => TENS[t as usize].to_string(),
                    1 => format!("{} et un", TENS[t as usize]),
                    _ => format!("{} {}", TENS[t as usize], UNITS[u as usize]),
                }
            }
            70..=79 if n == 71 => "soixante et onze".to_string(),
            70..=79 => format!("soixante {}", below_100(n - 60)),
            80 => "quatre vingts".to_string(),
            _ => format!("quatre vingt {}", below_100(n - 80)),
        }
    }
    fn below_1000(n: u64) -> String {
        let (h, r) = (n / 100, n % 100);
        let hundreds = match (h, r) {
            (0, _) => String::new(),
            (1, _) => "cent".to_string(),
            (h, 0) => format!("{} cents", UNITS[h as usize]),
            (h, _) => format!("{} cent", UNITS[h as usize]),
        };
        match (hundreds.is_empty(), r) {
            (true, r) => below_100(r),
            (false, 0) => hundreds,
            (false, r) => format!("{hundreds} {}", below_100(r)),
        }
    }
    if n < 1000 {
        return below_1000(n);
    }
    let mut parts = Vec::new();
    let (millions, thousands, rest) = (n / 1_000_000, (n / 1000) % 1000, n % 1000);
    if millions > 0 {
        let m = below_1000(millions);
        parts.push(if millions == 1 { "un million".to_string() } else { format!("{m} millions") });
    }
    if thousands == 1 {
        parts.push("mille".to_string());
    } else if thousands > 1 {
        // "deux cents" but "deux cent mille": the plural s drops before mille.
        let t = below_1000(thousands);
        let t = if t.ends_with("cents") || t.ends_with("vingts") { t[..t.len() - 1].to_string() } else { t };
        parts.push(format!("{t} mille"));
    }
    if rest > 0 {
        parts.push(below_1000(rest));
    }
    parts.join(" ")
}

/// Word-level Levenshtein distance (substitutions + deletions + insertions).
pub fn word_errors(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    let mut cur = vec![0; hypothesis.len() + 1];
    for (i, r) in reference.iter().enumerate() {
        cur[0] = i + 1;
        for (j, h) in hypothesis.iter().enumerate() {
            let sub = prev[j] + usize::from(r != h);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[hypothesis.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        normalize(s)
    }

    #[test]
    fn normalization_is_stated_and_symmetric() {
        assert_eq!(words("Toutes les lignes sont occupées pour l'instant."), words("toutes les lignes sont occupées pour l instant"));
        assert_eq!(words("Appuyez sur 2."), words("appuyez sur deux"));
        assert_eq!(words("9h30"), vec!["neuf", "h", "trente"]);
        assert_eq!(words("Échec !"), vec!["échec"]);
    }

    #[test]
    fn french_numbers() {
        assert_eq!(french_number(21), "vingt et un");
        assert_eq!(french_number(71), "soixante et onze");
        assert_eq!(french_number(77), "soixante dix sept");
        assert_eq!(french_number(80), "quatre vingts");
        assert_eq!(french_number(99), "quatre vingt dix neuf");
        assert_eq!(french_number(200), "deux cents");
        assert_eq!(french_number(3230), "trois mille deux cent trente");
        assert_eq!(french_number(1_000_001), "un million un");
    }

    #[test]
    fn word_error_counts() {
        let r = words("composez votre mot de passe");
        assert_eq!(word_errors(&r, &r), 0);
        assert_eq!(word_errors(&r, &words("composez votre mot passe")), 1);
        assert_eq!(word_errors(&r, &words("composez le mot de passe suivi")), 2);
        assert_eq!(word_errors(&r, &[]), 5);
    }
}
