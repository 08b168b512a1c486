//! Grouping similar unanswered questions: each transcript is normalized (lowercase, accents
//! and punctuation folded, elisions split, stop words dropped: the matcher's own folding
//! and stop list), identical normalized forms make one group, and groups whose words
//! overlap enough are merged. A group is known by the SHA-256 of each of its normalized
//! forms, which is what the inbox's marks store.

use std::collections::{BTreeMap, BTreeSet};

use nlu::analysis::{elide, fold_text, is_stop_word};
use sha2::{Digest, Sha256};

/// Jaccard overlap of word sets from which two groups are one.
const MERGE_OVERLAP: f64 = 0.6;

/// The normalized form of a question ("" when only stop words are left).
pub(crate) fn normalize(text: &str) -> String {
    let tokens: Vec<String> = elide(&fold_text(text)).into_iter().filter(|t| !is_stop_word(t) && t.chars().any(char::is_alphanumeric)).collect();
    tokens.join(" ")
}

/// The key stored for a normalized form.
pub(crate) fn text_key(normalized: &str) -> String {
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

/// One group of similar questions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Group<T> {
    /// The most frequent normalized form.
    pub normalized: String,
    /// Every normalized form merged here (their keys are marked together).
    pub forms: BTreeSet<String>,
    pub items: Vec<T>,
}

impl<T> Group<T> {
    pub fn keys(&self) -> Vec<String> {
        self.forms.iter().map(|f| text_key(f)).collect()
    }
}

fn words(s: &str) -> BTreeSet<&str> {
    s.split(' ').filter(|w| !w.is_empty()).collect()
}

fn overlap(a: &str, b: &str) -> f64 {
    let (x, y) = (words(a), words(b));
    let union = x.union(&y).count();
    if union == 0 {
        return 0.0;
    }
    x.intersection(&y).count() as f64 / union as f64
}

/// Groups `items` by the normalized form of `text_of(item)`, largest group first (ties:
/// normalized form). Items whose text normalizes to nothing are left out.
pub(crate) fn group<T>(items: Vec<T>, text_of: impl Fn(&T) -> &str) -> Vec<Group<T>> {
    let mut exact: BTreeMap<String, Vec<T>> = BTreeMap::new();
    for it in items {
        let n = normalize(text_of(&it));
        if !n.is_empty() {
            exact.entry(n).or_default().push(it);
        }
    }
    // Largest exact forms first: they become the groups' names.
    let mut forms: Vec<(String, Vec<T>)> = exact.into_iter().collect();
    forms.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    let mut groups: Vec<Group<T>> = Vec::new();
    for (form, its) in forms {
        match groups.iter_mut().find(|g| g.forms.iter().any(|f| overlap(f, &form) >= MERGE_OVERLAP)) {
            Some(g) => {
                g.forms.insert(form);
                g.items.extend(its);
            }
            None => groups.push(Group { normalized: form.clone(), forms: BTreeSet::from([form]), items: its }),
        }
    }
    groups.sort_by(|a, b| b.items.len().cmp(&a.items.len()).then_with(|| a.normalized.cmp(&b.normalized)));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_punctuation_and_stop_words_go() {
        assert_eq!(normalize("La MÉTÉO, de demain ?"), normalize("la meteo demain"));
        assert!(!normalize("la météo de demain").contains("la"));
        assert_eq!(normalize("euh ... le"), "");
    }

    #[test]
    fn similar_questions_make_one_group() {
        let qs = vec!["je voudrais la météo de demain", "la météo pour demain", "La météo de demain !", "ma carte vitale ne marche plus"];
        let g = group(qs, |q| q);
        assert_eq!(g.len(), 2, "{g:?}");
        assert_eq!(g[0].items.len(), 3);
        assert_eq!(g[1].items, vec!["ma carte vitale ne marche plus"]);
        assert_eq!(g[0].keys().len(), g[0].forms.len());
    }
}
