//! French text analysis for speech transcripts.
//!
//! One pipeline for both the knowledge base and the caller's words, so they meet:
//! fold (lowercase, ASCII) → elision → number words to digits → spelled acronyms →
//! domain phrases to canonical tokens → stop words → Snowball French stems, plus
//! character trigrams of each content word for recogniser errors ("alocation",
//! "franse conect").

mod domain;
mod fold;
mod numbers;
mod stop;

use rust_stemmers::{Algorithm, Stemmer};

pub use domain::{canonical_phrases, correct_misheard, elide, is_acronym, join_spelled};
pub use fold::fold_text;
pub use numbers::words_to_digits;
pub use stop::is_stop_word;

/// The analysed forms of one text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analyzed {
    /// Canonical tokens before stop-word removal (the rule layer reads these).
    pub tokens: Vec<String>,
    /// Stems of the content words, in order.
    pub stems: Vec<String>,
    /// Stems of the content words as said, before the domain phrases are rewritten.
    pub surface_stems: Vec<String>,
    /// Character trigrams of the content words, with `_` marking word edges.
    pub grams: Vec<String>,
    /// Phonetic keys of the content words as said ([`crate::phonetic`]).
    pub phon_words: Vec<String>,
    /// Phonetic keys of runs of two and three words as said, and of acronyms spelled.
    pub phon_runs: Vec<String>,
}

/// Holds the stemmer; cheap to share, analysis takes `&self`.
pub struct Analyzer {
    stemmer: Stemmer,
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer { stemmer: Stemmer::create(Algorithm::French) }
    }
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Analyzer(fr)")
    }
}

/// Tokens before the domain phrases are rewritten (elision, numbers, acronyms and
/// known mishearings done).
fn surface_tokens(text: &str) -> Vec<String> {
    correct_misheard(join_spelled(words_to_digits(elide(&fold_text(text)))))
}

/// Canonical tokens of a text (no stop-word removal, no stemming).
pub fn canonical_tokens(text: &str) -> Vec<String> {
    canonical_phrases(surface_tokens(text))
}

fn trigrams(word: &str, out: &mut Vec<String>) {
    let padded: Vec<char> = std::iter::once('_').chain(word.chars()).chain(std::iter::once('_')).collect();
    if padded.len() <= 3 {
        out.push(padded.iter().collect());
        return;
    }
    for w in padded.windows(3) {
        out.push(w.iter().collect());
    }
}

impl Analyzer {
    pub fn stem(&self, word: &str) -> String {
        // Digits and canonical tokens are already what they should be.
        if word.bytes().any(|b| b.is_ascii_digit()) {
            return word.to_string();
        }
        self.stemmer.stem(word).into_owned()
    }

    pub fn analyze(&self, text: &str) -> Analyzed {
        let surface = surface_tokens(text);
        let tokens = canonical_phrases(surface.clone());
        let stems = tokens.iter().filter(|t| !is_stop_word(t)).map(|t| self.stem(t)).collect();
        // Trigrams and surface stems come from the words as said, before synonyms: a
        // misrecognised "mot de pass" still shares most of its trigrams and stems with
        // "mot de passe", while its canonical token is lost.
        let mut grams = Vec::new();
        let mut surface_stems = Vec::new();
        for t in surface.iter().filter(|t| !is_stop_word(t)) {
            trigrams(t, &mut grams);
            surface_stems.push(self.stem(t));
        }
        let content: Vec<bool> = surface.iter().map(|t| !is_stop_word(t)).collect();
        let (phon_words, phon_runs) = crate::phonetic::terms(&surface, &content, is_acronym);
        Analyzed { tokens, stems, surface_stems, grams, phon_words, phon_runs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_meets_spoken_and_written_forms() {
        let a = Analyzer::default();
        let spoken = a.analyze("Euh bonjour, c'est pour l'aide personnalisée au logement sur caf point f r");
        let written = a.analyze("APL caf.fr");
        assert_eq!(spoken.stems, written.stems);
        assert_eq!(a.analyze("le r s a").stems, a.analyze("RSA").stems);
        assert_eq!(a.analyze("le trois mille deux cent trente").stems, vec!["3230"]);
    }

    #[test]
    fn stems_and_stop_words() {
        let a = Analyzer::default();
        let x = a.analyze("Je voudrais les allocations pour mes enfants");
        assert_eq!(x.stems, vec!["alloc", "enfant"]);
        assert!(a.analyze("bonjour euh s'il vous plaît").stems.is_empty());
    }

    #[test]
    fn a_declining_no_is_not_the_non_of_non_paiement() {
        let a = Analyzer::default();
        for reply in ["non", "Non merci", "non merci c'est tout", "Non, non.", "non c'est bon merci"] {
            let x = a.analyze(reply);
            assert!(x.stems.is_empty() && x.grams.is_empty(), "{reply}: {x:?}");
        }
        assert_eq!(a.analyze("une attestation de non-paiement").stems, vec!["attest", "nonpai"]);
        assert_eq!(a.analyze("attestation de non paiement").stems, a.analyze("attestation de non-paiement").stems);
        assert!(!a.analyze("non merci je veux une attestation de paiement").stems.contains(&"nonpai".to_string()));
    }

    #[test]
    fn trigrams_mark_word_edges() {
        let mut g = Vec::new();
        trigrams("rsa", &mut g);
        assert_eq!(g, vec!["_rs", "rsa", "sa_"]);
        g.clear();
        trigrams("a", &mut g);
        assert_eq!(g, vec!["_a_"]);
    }
}
