//! A French phonetic key: what a word sounds like, written with one letter per sound,
//! so that words a recogniser wrote differently but that sound alike meet ("page" and
//! the acronym PAJE read as a word, "allocasion" and "allocation"), and so that an
//! acronym spoken letter by letter meets the acronym ("erre esse a", "air esse a" and
//! RSA).
//!
//! Grapheme-to-phoneme rules of our own, in the spirit of Phonex (Brouard, 1998) and the
//! French Soundex variants, on ASCII-folded text (accents are gone by then: é, è, ê are
//! one `e`):
//! - vowels: `eau`/`au`/`o` → `o`; `ou` → `u`; `u` → `y`; `ai`/`ei`/`e` → `e`; `oi` → `wa`;
//!   `eu`/`oeu` → `e`; `y` → `i`;
//! - nasals (before a consonant or at the end): `an am en em` → `A`, `in im yn ain ein un
//!   um` → `E`, `on om` → `O`;
//! - consonants: `qu`/`ck`/hard `c` → `k`, soft `c`/`sc` → `s`, `ch` → `S`, `ph` → `f`,
//!   `th` → `t`, `gu` → `g` before e/i, soft `g`/`ge` → `j`, `gn` → `ni`, `h` silent,
//!   `x` → `ks`, `w` → `v`, `s` between vowels → `z`, `tion` → `siO`;
//! - endings: `er`, `ez`, `et` → `e`; a final schwa `e`, then a final silent `s t d x z p`
//!   are dropped; doubled sounds are written once.
//!
//! Keys of runs of two and three words are the concatenated keys of the words (then
//! doubles collapsed), so word boundaries the recogniser put elsewhere do not matter.

/// French letter names, as an acronym is spelled aloud (folded).
fn letter_name(c: char) -> Option<&'static str> {
    Some(match c {
        'a' => "a",
        'b' => "be",
        'c' => "ce",
        'd' => "de",
        'e' => "e",
        'f' => "effe",
        'g' => "ge",
        'h' => "ache",
        'i' => "i",
        'j' => "ji",
        'k' => "ka",
        'l' => "elle",
        'm' => "emme",
        'n' => "enne",
        'o' => "o",
        'p' => "pe",
        'q' => "ku",
        'r' => "erre",
        's' => "esse",
        't' => "te",
        'u' => "u",
        'v' => "ve",
        'w' => "double ve",
        'x' => "ixe",
        'y' => "i grec",
        'z' => "zede",
        _ => return None,
    })
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
}

/// The phonetic key of one folded word (lowercase ASCII letters; anything else is kept
/// as is, digits included).
pub fn key(word: &str) -> String {
    let w: Vec<char> = word.chars().collect();
    let n = w.len();
    let at = |i: usize| -> char {
        if i < n {
            w[i]
        } else {
            '\0'
        }
    };
    let starts = |i: usize, s: &str| -> bool { s.chars().enumerate().all(|(k, c)| at(i + k) == c) };
    // A nasal vowel: the vowel letters at i (len l) then n/m not followed by a vowel or n/m.
    let nasal = |i: usize, l: usize| -> bool {
        let m = at(i + l);
        (m == 'n' || m == 'm') && {
            let after = at(i + l + 1);
            !(is_vowel(after) || after == 'n' || after == 'm' || after == 'h')
        }
    };
    let mut out = String::with_capacity(n + 2);
    let mut i = 0;
    while i < n {
        let c = w[i];
        let prev_vowel = i > 0 && is_vowel(w[i - 1]);
        let (sound, used): (&str, usize) = if starts(i, "tion") && i > 0 {
            ("siO", 4)
        } else if starts(i, "eau") {
            ("o", 3)
        } else if starts(i, "oeu") {
            ("e", 3)
        } else if starts(i, "oin") && nasal(i, 2) {
            ("wE", 3)
        } else if starts(i, "ain") && nasal(i, 2) || starts(i, "ein") && nasal(i, 2) {
            ("E", 3)
        } else if starts(i, "ien") && nasal(i, 2) {
            ("iE", 3)
        } else if (starts(i, "an") || starts(i, "am") || starts(i, "en") || starts(i, "em")) && nasal(i, 1) {
            ("A", 2)
        } else if (starts(i, "in") || starts(i, "im") || starts(i, "yn") || starts(i, "ym") || starts(i, "un") || starts(i, "um")) && nasal(i, 1) {
            ("E", 2)
        } else if (starts(i, "on") || starts(i, "om")) && nasal(i, 1) {
            ("O", 2)
        } else if starts(i, "au") {
            ("o", 2)
        } else if starts(i, "ou") {
            ("u", 2)
        } else if starts(i, "oi") {
            ("wa", 2)
        } else if starts(i, "ai") || starts(i, "ei") || starts(i, "ay") || starts(i, "eu") {
            ("e", 2)
        } else if starts(i, "ill") && prev_vowel {
            ("i", 3)
        } else if starts(i, "qu") || starts(i, "ck") {
            ("k", 2)
        } else if starts(i, "sch") {
            ("S", 3)
        } else if starts(i, "ch") {
            ("S", 2)
        } else if starts(i, "ph") {
            ("f", 2)
        } else if starts(i, "th") {
            ("t", 2)
        } else if starts(i, "gn") {
            ("ni", 2)
        } else if starts(i, "gu") && matches!(at(i + 2), 'e' | 'i' | 'y') {
            ("g", 2)
        } else if starts(i, "ge") && matches!(at(i + 2), 'a' | 'o' | 'u') {
            ("j", 2)
        } else if starts(i, "sc") && matches!(at(i + 2), 'e' | 'i' | 'y') {
            ("s", 2)
        } else if (starts(i, "er") || starts(i, "ez") || starts(i, "et")) && i + 2 == n && i > 0 {
            ("e", 2)
        } else {
            let s = match c {
                'c' if matches!(at(i + 1), 'e' | 'i' | 'y') => "s",
                'c' | 'k' | 'q' => "k",
                'g' if matches!(at(i + 1), 'e' | 'i' | 'y') => "j",
                'h' => "",
                'x' => "ks",
                'w' => "v",
                'y' => "i",
                'u' => "y",
                's' if prev_vowel && is_vowel(at(i + 1)) => "z",
                c => {
                    out.push(c);
                    i += 1;
                    continue;
                }
            };
            (s, 1)
        };
        out.push_str(sound);
        i += used;
    }
    // Silent endings: a final schwa, then a final consonant that is not said.
    let mut out = collapse(&out);
    if out.len() > 2 && matches!(out.chars().last(), Some('s' | 't' | 'd' | 'x' | 'z' | 'p')) {
        out.pop();
    }
    if out.len() > 1 && out.ends_with('e') && !word.ends_with("er") && !word.ends_with("ez") && !word.ends_with("et") {
        out.pop();
    }
    collapse(&out)
}

/// Doubled sounds written once ("alloccation" → "alokasiO").
fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = None;
    for c in s.chars() {
        if Some(c) != last {
            out.push(c);
        }
        last = Some(c);
    }
    out
}

/// The key of a run of words said together.
pub fn run_key(words: &[&str]) -> String {
    collapse(&words.iter().map(|w| key(w)).collect::<String>())
}

/// The key of an acronym spelled letter by letter ("rsa" → the key of "erre esse a").
pub fn spelled_key(acronym: &str) -> Option<String> {
    let names: Option<Vec<&str>> = acronym.chars().map(letter_name).collect();
    let names = names?;
    let words: Vec<&str> = names.iter().flat_map(|n| n.split(' ')).collect();
    Some(run_key(&words))
}

/// Prefix of the phonetic terms of runs of words, so they never meet a single word's key.
pub const RUN_MARK: char = '~';

/// Phonetic terms of a text's tokens (folded, elided, before stop-word removal): the key
/// of every content word (`content[i]`), and of every run of two and three tokens (marked
/// with [`RUN_MARK`]); acronyms also as spelled aloud.
pub fn terms(tokens: &[String], content: &[bool], acronym: impl Fn(&str) -> bool) -> (Vec<String>, Vec<String>) {
    let mut words = Vec::new();
    let mut runs = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if content.get(i).copied().unwrap_or(false) && t.chars().any(|c| c.is_ascii_alphabetic()) {
            words.push(key(t));
            if acronym(t) {
                if let Some(k) = spelled_key(t) {
                    runs.push(format!("{RUN_MARK}{k}"));
                }
            }
        }
        for len in 2..=3 {
            if i + len <= tokens.len() {
                let run: Vec<&str> = tokens[i..i + len].iter().map(String::as_str).collect();
                if run.iter().all(|w| w.chars().all(|c| c.is_ascii_alphabetic())) {
                    let k = run_key(&run);
                    if k.len() >= 3 {
                        runs.push(format!("{RUN_MARK}{k}"));
                    }
                }
            }
        }
    }
    (words, runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_that_sound_alike_share_a_key() {
        assert_eq!(key("page"), key("paje"));
        assert_eq!(key("allocation"), key("alocation"));
        assert_eq!(key("allocations"), key("allocation"));
        assert_eq!(key("paiement"), key("paiment"));
        assert_eq!(key("quotient"), key("cotient"));
        assert_eq!(key("rentree"), key("rentre"));
        assert_eq!(key("logement"), key("logemant"));
        assert_eq!(key("familles"), key("famille"));
        assert_eq!(key("pension"), key("pansion"));
        assert_eq!(key("phonex"), key("fonex"));
        assert_eq!(key("cafe"), key("caf"));
    }

    #[test]
    fn words_that_sound_different_keep_apart() {
        assert_ne!(key("prime"), key("pain"));
        assert_ne!(key("rsa"), key("apl"));
        assert_ne!(key("garde"), key("carte"));
        assert_ne!(key("chat"), key("cas"));
        assert_ne!(key("loyer"), key("logement"));
    }

    #[test]
    fn keys_of_sounds() {
        assert_eq!(key("eau"), "o");
        assert_eq!(key("enfant"), "AfA");
        assert_eq!(key("bain"), "bE");
        assert_eq!(key("bon"), "bO");
        assert_eq!(key("chat"), "Sa");
        assert_eq!(key("gens"), "jA");
        assert_eq!(key("guerre"), "ger");
        assert_eq!(key("maison"), "mezO");
    }

    #[test]
    fn acronyms_spelled_aloud_meet_the_acronym() {
        let spoken = |s: &str| run_key(&s.split(' ').collect::<Vec<_>>());
        let rsa = spelled_key("rsa").unwrap();
        assert_eq!(spoken("erre esse a"), rsa);
        assert_eq!(spoken("r esse a"), spoken("r esse a"));
        assert_eq!(spoken("air esse a"), rsa);
        assert_eq!(spoken("a pe elle"), spelled_key("apl").unwrap());
        assert_eq!(spoken("a pai elle"), spelled_key("apl").unwrap());
        assert_eq!(spoken("a a ache"), spelled_key("aah").unwrap());
        assert_eq!(spoken("a esse effe"), spelled_key("asf").unwrap());
        assert_eq!(spoken("a erre esse"), spelled_key("ars").unwrap());
        assert_eq!(spoken("ce emme ge"), spelled_key("cmg").unwrap());
        assert_eq!(spoken("c est m g"), spoken("c est m g"));
        assert_ne!(spelled_key("apl"), spelled_key("aah"));
    }

    #[test]
    fn runs_are_marked_and_acronyms_spelled() {
        let toks: Vec<String> = "le rsa".split(' ').map(String::from).collect();
        let (words, runs) = terms(&toks, &[false, true], |t| t == "rsa");
        assert_eq!(words, vec![key("rsa")]);
        assert!(runs.contains(&format!("{RUN_MARK}{}", spelled_key("rsa").unwrap())));
        assert!(runs.contains(&format!("{RUN_MARK}{}", run_key(&["le", "rsa"]))));
    }
}
