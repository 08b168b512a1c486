//! Explicit requests for a human ("je veux parler à un conseiller", "passez-moi
//! quelqu'un"). They win over any topic named in the same sentence: a caller who asks
//! for a person must never get a recorded answer instead.

/// Words that name a human on the line.
const HUMAN: &[&str] = &[
    "conseiller",
    "conseillere",
    "conseillers",
    "conseilleres",
    "agent",
    "agents",
    "operateur",
    "operatrice",
    "operateurs",
    "humain",
    "humaine",
    "humains",
    "interlocuteur",
    "interlocutrice",
    "standardiste",
    "telephoniste",
    "teleconseiller",
    "teleconseillere",
    "correspondant",
    "correspondante",
];

/// Verbs and forms of asking to be put through.
const ASK: &[&str] = &[
    "parler",
    "parle",
    "discuter",
    "passer",
    "passez",
    "passe",
    "joindre",
    "contacter",
    "avoir",
    "mettre",
    "mettez",
    "transferer",
    "transferez",
    "transfere",
    "veux",
    "voudrais",
    "voulais",
    "besoin",
    "souhaite",
    "souhaiterais",
    "aimerais",
    "puis",
    "peux",
    "pourrais",
    "donnez",
    "appeler",
    "echanger",
    "faut",
];

/// Where "personne" means a person rather than "nobody".
fn is_person(tokens: &[String], i: usize) -> bool {
    let prev = i.checked_sub(1).map(|j| tokens[j].as_str());
    let next = tokens.get(i + 1).map(String::as_str);
    matches!(prev, Some("une" | "vraie" | "vrai" | "reelle" | "autre")) || matches!(next, Some("reelle" | "physique" | "humaine" | "vivante" | "en"))
}

fn qualified(tokens: &[String], i: usize) -> bool {
    let prev = i.checked_sub(1).map(|j| tokens[j].as_str());
    let next = tokens.get(i + 1).map(String::as_str);
    matches!(prev, Some("vraie" | "vrai" | "reelle")) || matches!(next, Some("reelle" | "physique" | "humaine" | "vivante"))
}

/// "passez-moi quelqu'un", "avoir quelqu'un au téléphone" — but not "voir quelqu'un à
/// l'agence" (an appointment) nor "je n'arrive pas à joindre quelqu'un" (a complaint).
fn someone_on_the_line(tokens: &[String], i: usize) -> bool {
    const PUT_THROUGH: &[&str] = &["parler", "parle", "discuter", "passer", "passez", "passe", "mettez", "mettre", "transferer", "transferez", "echanger"];
    let on_phone = tokens[i..].iter().take(5).any(|t| matches!(t.as_str(), "telephone" | "ligne" | "bout"));
    window_has(tokens, i, 4, PUT_THROUGH) || (on_phone && window_has(tokens, i, 4, ASK))
}

fn window_has(tokens: &[String], i: usize, before: usize, words: &[&str]) -> bool {
    let start = i.saturating_sub(before);
    tokens[start..i].iter().any(|t| words.contains(&t.as_str()))
}

/// True when the canonical tokens (see [`crate::analysis::canonical_tokens`]) ask for
/// a human. `content_len` is the number of content words: a bare "un conseiller s'il
/// vous plaît" is a request even without a verb.
pub fn asks_for_human(tokens: &[String], content_len: usize) -> bool {
    let has_ask = tokens.iter().any(|t| ASK.contains(&t.as_str()));
    let talk = tokens
        .iter()
        .any(|t| matches!(t.as_str(), "parler" | "parle" | "discuter" | "passer" | "passez" | "joindre" | "transferer" | "transferez" | "echanger"));
    let appointment = tokens.iter().any(|t| t == "rdv");
    for (i, t) in tokens.iter().enumerate() {
        // "personne" and "quelqu'un" are everyday words: they name a human on the line
        // only with a verb of talking or a qualifier ("une vraie personne").
        let weak = (t == "personne" && is_person(tokens, i) && (talk || qualified(tokens, i)))
            || (t == "quelqu" && tokens.get(i + 1).is_some_and(|n| n == "un") && someone_on_the_line(tokens, i));
        if weak {
            return true;
        }
        if !HUMAN.contains(&t.as_str()) {
            continue;
        }
        // "un rendez-vous avec un conseiller" is booking, unless they ask to talk now.
        if appointment && !talk {
            continue;
        }
        if has_ask || content_len <= 2 {
            return true;
        }
    }
    // "je ne veux pas parler à un robot", "arrêtez la machine".
    let machine = tokens.iter().any(|t| matches!(t.as_str(), "robot" | "machine" | "repondeur"));
    let refuse = tokens.iter().any(|t| matches!(t.as_str(), "pas" | "marre" | "arretez" | "arrete" | "stop"));
    machine && (refuse || talk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{canonical_tokens, is_stop_word};

    fn asks(s: &str) -> bool {
        let t = canonical_tokens(s);
        let n = t.iter().filter(|w| !is_stop_word(w)).count();
        asks_for_human(&t, n)
    }

    #[test]
    fn explicit_requests_for_a_human() {
        assert!(asks("je veux parler à un conseiller pour mon RSA"));
        assert!(asks("passez-moi quelqu'un s'il vous plaît"));
        assert!(asks("je voudrais parler à une vraie personne"));
        assert!(asks("un conseiller svp"));
        assert!(asks("je ne veux pas parler à un robot"));
        assert!(asks("mettez-moi en relation avec un agent de la Caf"));
    }

    #[test]
    fn topics_that_mention_people_are_not_requests() {
        assert!(!asks("comment avoir un rendez-vous avec un conseiller en agence"));
        assert!(!asks("je suis une personne handicapée quelle aide"));
        assert!(!asks("personne ne répond à mes mails"));
        assert!(!asks("est-ce que quelqu'un a droit au rsa à dix-huit ans"));
        assert!(!asks("je veux une aide je suis une personne handicapée"));
        assert!(!asks("je voudrais voir quelqu'un à l'agence"));
        assert!(!asks("je n'arrive jamais à joindre quelqu'un"));
        assert!(asks("je voudrais avoir quelqu'un au téléphone"));
    }
}
