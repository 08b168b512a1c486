//! The domain's vocabulary for the recognizer, generated from the knowledge base (never
//! kept by hand): Whisper's initial prompt, a short French sentence naming the benefits,
//! the acronyms as callers say them, and the service's own words ("Caf", "caf point f r",
//! "32 30", "Mon Compte"). whisper.cpp keeps at most the last 224 prompt tokens; the
//! prompt stays far below.

use crate::knowledge::KnowledgeBase;

/// Longest prompt, in characters (~ 100 tokens of French).
const MAX_CHARS: usize = 380;

/// The initial prompt: the topics' titles and their acronym keywords.
pub fn whisper_prompt(kb: &KnowledgeBase) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        let s = s.trim().trim_end_matches('.');
        if !s.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(s)) {
            names.push(s.to_string());
        }
    };
    // Acronyms first (the words Whisper misses most), then benefit names.
    for e in &kb.topics {
        for k in &e.topic.keywords {
            let letters: Vec<char> = k.chars().filter(|c| c.is_alphabetic()).collect();
            if letters.len() >= 2 && letters.len() <= 5 && letters.iter().all(|c| c.is_uppercase()) && k.len() <= 6 {
                push(k);
            }
        }
    }
    for e in &kb.topics {
        push(&e.topic.title);
    }
    let mut out = String::from("Appel à la Caf, le 32 30, caf point f r, Mon Compte.");
    for n in names {
        if out.len() + n.len() + 2 > MAX_CHARS {
            break;
        }
        out.push(' ');
        out.push_str(&n);
        out.push(',');
    }
    out.pop();
    out.push('.');
    out
}
