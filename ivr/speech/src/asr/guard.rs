//! Hallucination guard: Whisper, trained on subtitled video, writes credits and
//! sign-offs when it hears silence, music or line noise. These are removed from
//! what it returns; a transcript left with no words is empty.

/// Lower-cased fragments that only occur in subtitle credits and video
/// sign-offs, never in a caller's question about the Caf.
const PHANTOMS: [&str; 14] = [
    "sous-titres réalisés par",
    "sous-titrage st'",
    "sous-titrage société radio-canada",
    "sous-titrage fr",
    "sous-titres par",
    "sous-titres fait par",
    "communauté d'amara",
    "amara.org",
    "merci d'avoir regardé",
    "merci de votre attention et à bientôt",
    "abonnez-vous",
    "n'oubliez pas de vous abonner",
    "à la prochaine vidéo",
    "cette vidéo",
];

/// The cleaned transcript: phantom sentences and bracketed sound tags
/// ("[Musique]", "(applaudissements)", "*rires*") removed, whitespace tidied.
pub fn clean(text: &str) -> String {
    let without_tags = strip_tags(text);
    let kept: Vec<&str> = sentences(&without_tags)
        .into_iter()
        .filter(|s| {
            let lower = s.to_lowercase();
            !PHANTOMS.iter().any(|p| lower.contains(p))
        })
        .collect();
    let joined = kept.join(" ");
    let tidy = joined.split_whitespace().collect::<Vec<_>>().join(" ");
    if tidy.chars().any(char::is_alphanumeric) {
        tidy
    } else {
        String::new()
    }
}

/// True when the model's own no-speech estimate says the window was not speech.
/// Used with `clean`: a confident "no speech" and a short output are dropped.
pub fn is_no_speech(no_speech_prob: f32, text: &str) -> bool {
    no_speech_prob > 0.8 && text.split_whitespace().count() <= 3
}

fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut closing: Option<char> = None;
    for c in text.chars() {
        match (closing, c) {
            (None, '[') => closing = Some(']'),
            (None, '(') => closing = Some(')'),
            (None, '*') => closing = Some('*'),
            (None, '♪') => {}
            (None, c) => out.push(c),
            (Some(close), c) if c == close => closing = None,
            (Some(_), _) => {}
        }
    }
    out
}

/// Splits after . ! ? … followed by a space (so "Amara.org" stays whole),
/// keeping the punctuation with its sentence.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let at_boundary = chars.peek().is_none_or(|(_, next)| next.is_whitespace());
        if matches!(c, '.' | '!' | '?' | '…') && at_boundary {
            let end = i + c.len_utf8();
            let s = text[start..end].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = end;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_and_tags_are_removed_real_speech_is_kept() {
        assert_eq!(clean(" Sous-titres réalisés par la communauté d'Amara.org"), "");
        assert_eq!(clean("Merci d'avoir regardé cette vidéo !"), "");
        assert_eq!(clean("[Musique]"), "");
        assert_eq!(clean(" ... "), "");
        assert_eq!(clean("Je voudrais une attestation. Sous-titrage ST' 501"), "Je voudrais une attestation.");
        assert_eq!(clean("(bruit) Merci."), "Merci.");
        assert_eq!(clean(" Quand est versée la prime d'activité ?"), "Quand est versée la prime d'activité ?");
    }

    #[test]
    fn no_speech_gate_needs_both_signals() {
        assert!(is_no_speech(0.95, "Merci."));
        assert!(!is_no_speech(0.95, "je voudrais connaître le montant de mon aide au logement"));
        assert!(!is_no_speech(0.2, "Merci."));
    }
}
