//! The domain layer: elision, spelled-out acronyms ("r s a", "air ès a") and the Caf
//! vocabulary's synonyms, rewritten to one canonical token each so that the index
//! and the transcripts meet whatever way the caller or the recogniser wrote it.

/// Elided articles and pronouns ("l'apl", "qu'est-ce", "j'ai").
const ELISIONS: &[&str] = &["l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu", "presqu"];

/// Acronyms of the domain, the only results a run of spelled letter *names* may give
/// ("elle a" must stay a pronoun and a verb).
const ACRONYMS: &[&str] = &[
    "rsa", "apl", "als", "alf", "caf", "aah", "asf", "ars", "aeeh", "ajpp", "cmg", "paje", "qf", "rib", "mdph", "cnaf", "msa", "fr", "sms", "pdf", "iban",
    "ccas", "pmi", "cpam", "urssaf", "aripa",
];

/// Whether a token is one of the domain's acronyms.
pub fn is_acronym(t: &str) -> bool {
    ACRONYMS.contains(&t)
}

/// How French speakers (and Whisper) write letter names.
fn letter_name(w: &str) -> Option<char> {
    Some(match w {
        "erre" | "air" | "aire" | "ere" => 'r',
        "esse" | "es" | "ess" => 's',
        "pe" | "pai" => 'p',
        "elle" | "el" | "ele" => 'l',
        "effe" | "ef" | "eff" => 'f',
        "cu" | "ku" => 'q',
        "ache" | "hache" => 'h',
        "emme" | "em" => 'm',
        "enne" => 'n',
        "be" => 'b',
        "ce" | "se" => 'c',
        "ve" => 'v',
        "ji" => 'g',
        "i" => 'i',
        _ => return None,
    })
}

/// Phrase → canonical tokens. Longest match wins; applied after elision and numbers.
const PHRASES: &[(&str, &str)] = &[
    // Housing aid: every name callers use.
    ("aide personnalisee au logement", "apl"),
    ("aides personnalisees au logement", "apl"),
    ("aide personnalisee logement", "apl"),
    ("allocation logement", "apl"),
    ("allocations logement", "apl"),
    ("allocation de logement", "apl"),
    ("allocation logement familiale", "apl"),
    ("allocation logement sociale", "apl"),
    ("aide au logement", "apl"),
    ("aides au logement", "apl"),
    ("aide logement", "apl"),
    ("aides logement", "apl"),
    ("als", "apl"),
    ("alf", "apl"),
    ("revenu de solidarite active", "rsa"),
    ("revenu solidarite active", "rsa"),
    ("revenu de solidarite", "rsa"),
    ("prime activite", "primeactivite"),
    ("primes activite", "primeactivite"),
    ("allocation aux adultes handicapes", "aah"),
    ("allocation adulte handicape", "aah"),
    ("allocation adultes handicapes", "aah"),
    ("allocation aux adultes handicape", "aah"),
    ("allocation de soutien familial", "asf"),
    ("allocation soutien familial", "asf"),
    ("allocation de rentree scolaire", "ars"),
    ("allocation rentree scolaire", "ars"),
    ("prime de rentree", "ars"),
    ("allocation education de enfant handicape", "aeeh"),
    ("allocation education enfant handicape", "aeeh"),
    ("allocation journaliere de presence parentale", "ajpp"),
    ("complement de libre choix du mode de garde", "cmg"),
    ("complement mode de garde", "cmg"),
    ("complement de mode de garde", "cmg"),
    ("allocations familiales", "allocfam"),
    ("allocation familiale", "allocfam"),
    ("allocs familiales", "allocfam"),
    ("quotient familial", "qf"),
    ("trop percu", "indu"),
    ("trop percus", "indu"),
    ("pension alimentaire", "pensionalimentaire"),
    ("pensions alimentaires", "pensionalimentaire"),
    ("france connect", "franceconnect"),
    ("mot de passe", "motdepasse"),
    ("mots de passe", "motdepasse"),
    ("mdp", "motdepasse"),
    ("code confidentiel", "motdepasse"),
    ("code secret", "motdepasse"),
    ("code acces", "motdepasse"),
    ("numero allocataire", "numeroallocataire"),
    ("numero de allocataire", "numeroallocataire"),
    ("rendez vous", "rdv"),
    ("rendezvous", "rdv"),
    ("coordonnees bancaires", "rib"),
    ("releve identite bancaire", "rib"),
    ("compte bancaire", "rib"),
    ("iban", "rib"),
    ("e mail", "mail"),
    ("email", "mail"),
    ("courriel", "mail"),
    ("appli", "application"),
    ("applis", "application"),
    ("app", "application"),
    ("caf point fr", "caf site"),
    ("caf point f r", "caf site"),
    ("caf fr", "caf site"),
    ("cafe point fr", "caf site"),
    ("site internet", "site"),
    ("site web", "site"),
    ("internet", "site"),
    ("en ligne", "site"),
    ("mon compte", "moncompte"),
    ("espace personnel", "moncompte"),
    ("espace allocataire", "moncompte"),
    ("conge parental", "prepare"),
    ("assistante maternelle", "nounou"),
    ("assistant maternel", "nounou"),
    ("assmat", "nounou"),
    ("nourrice", "nounou"),
    ("france services", "franceservices"),
    ("france service", "franceservices"),
    ("maison france services", "franceservices"),
    ("violences conjugales", "violence conjugal"),
    ("violence conjugale", "violence conjugal"),
    // "non-paiement" is one word: the "non" of a caller declining ("non merci") must
    // not meet the attestation's name ("non" alone is a stop word).
    ("non paiement", "nonpaiement"),
    ("non paiment", "nonpaiement"),
    ("non paiements", "nonpaiement"),
    ("non versement", "nonpaiement"),
    ("non perception", "nonpaiement"),
    ("non allocataire", "nonallocataire"),
    ("non allocataires", "nonallocataire"),
    // The Caf by its full name.
    ("caisse allocations familiales", "caf"),
    ("caisse de allocations familiales", "caf"),
];

/// What the recognizer writes for a word said on the phone, corrected before anything
/// else (so coverage counts the word the caller meant): "caf" comes back as "casse" or
/// "caisse". Only after the article, so "j'ai cassé" or "ma caisse de retraite" stay.
const MISHEARD: &[(&str, &str)] = &[("la casse", "la caf"), ("la caisse", "la caf")];

/// Rewrites recognizer mishearings of domain words (see [`MISHEARD`]).
pub fn correct_misheard(tokens: Vec<String>) -> Vec<String> {
    rewrite(tokens, misheard_table())
}

fn misheard_table() -> &'static [(Vec<&'static str>, &'static str)] {
    static TABLE: std::sync::OnceLock<Vec<(Vec<&'static str>, &'static str)>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| MISHEARD.iter().map(|(p, c)| (p.split(' ').collect(), *c)).collect())
}

fn split_elision(tok: &str) -> &str {
    if let Some((head, tail)) = tok.split_once('\'') {
        if ELISIONS.contains(&head) && !tail.is_empty() {
            return tail;
        }
    }
    tok
}

/// Removes elided prefixes; other apostrophes become word breaks.
pub fn elide(folded: &str) -> Vec<String> {
    folded
        .split(' ')
        .filter(|t| !t.is_empty())
        .flat_map(|t| {
            let t = split_elision(t);
            // "caf.fr" is said "caf point f r": write it the way it is said.
            let mut parts = Vec::new();
            for (k, piece) in t.split('.').enumerate() {
                if k > 0 {
                    parts.push("point".to_string());
                }
                parts.extend(piece.split('\'').filter(|p| !p.is_empty()).map(String::from));
            }
            parts
        })
        .collect()
}

/// Joins runs of spelled letters: "r s a" → "rsa"; letter names only when they give a
/// known acronym ("air es a" → "rsa"). "y a" (il y a) is left alone.
pub fn join_spelled(tokens: Vec<String>) -> Vec<String> {
    let letter = |t: &str| -> Option<char> {
        let mut cs = t.chars();
        match (cs.next(), cs.next()) {
            (Some(c), None) if c.is_ascii_lowercase() => Some(c),
            _ => letter_name(t),
        }
    };
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let mut j = i;
        let mut word = String::new();
        while let Some(c) = tokens.get(j).and_then(|t| letter(t)) {
            word.push(c);
            j += 1;
        }
        // Longest prefix of the run that is acceptable.
        let mut taken = 0;
        for end in (i + 2..=j).rev() {
            let cand = &word[..end - i];
            let singles = tokens[i..end].iter().all(|t| t.len() == 1);
            let known = ACRONYMS.contains(&cand);
            if known || (singles && cand != "ya" && cand != "ay") {
                out.push(cand.to_string());
                taken = end - i;
                break;
            }
        }
        if taken == 0 {
            out.push(tokens[i].clone());
            i += 1;
        } else {
            i += taken;
        }
    }
    out
}

fn phrase_table() -> &'static [(Vec<&'static str>, &'static str)] {
    static TABLE: std::sync::OnceLock<Vec<(Vec<&'static str>, &'static str)>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: Vec<(Vec<&str>, &str)> = PHRASES.iter().map(|(p, c)| (p.split(' ').collect(), *c)).collect();
        // Longest first, so the first match is the one to take.
        t.sort_by_key(|b| std::cmp::Reverse(b.0.len()));
        t
    })
}

/// Rewrites domain phrases to their canonical token(s).
pub fn canonical_phrases(tokens: Vec<String>) -> Vec<String> {
    rewrite(tokens, phrase_table())
}

/// Replaces every occurrence of a table's phrases, first match (longest first) wins.
fn rewrite(tokens: Vec<String>, table: &[(Vec<&str>, &str)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let hit = table.iter().find(|(words, _)| i + words.len() <= tokens.len() && words.iter().zip(&tokens[i..]).all(|(p, t)| p == t));
        match hit {
            Some((words, canon)) => {
                out.extend(canon.split(' ').map(String::from));
                i += words.len();
            }
            None => {
                out.push(tokens[i].clone());
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caf_misheard_or_named_in_full_is_the_caf() {
        assert_eq!(correct_misheard(toks("un rendez vous a la caisse")), toks("un rendez vous a la caf"));
        assert_eq!(correct_misheard(toks("application de la casse")), toks("application de la caf"));
        assert_eq!(correct_misheard(toks("ma caisse de retraite")), toks("ma caisse de retraite"));
        assert_eq!(correct_misheard(toks("ai casse mon telephone")), toks("ai casse mon telephone"));
        assert_eq!(canonical_phrases(toks("ma caisse allocations familiales")), toks("ma caf"));
    }

    fn toks(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn elision_strips_articles_only() {
        assert_eq!(elide("l'apl qu'est ce aujourd'hui j'ai caf.fr"), toks("apl est ce aujourd hui ai caf point fr"));
    }

    #[test]
    fn spelled_acronyms_are_joined() {
        assert_eq!(join_spelled(toks("le r s a")), toks("le rsa"));
        assert_eq!(join_spelled(toks("le air es a svp")), toks("le rsa svp"));
        assert_eq!(join_spelled(toks("il y a")), toks("il y a"));
        assert_eq!(join_spelled(toks("elle a droit")), toks("elle a droit"));
        assert_eq!(join_spelled(toks("caf point f r")), toks("caf point fr"));
    }

    #[test]
    fn domain_phrases_become_one_token() {
        let t = canonical_phrases(toks("je veux l aide personnalisee au logement sur caf point fr"));
        assert_eq!(t, toks("je veux l apl sur caf site"));
        assert_eq!(canonical_phrases(toks("prendre rendez vous")), toks("prendre rdv"));
    }
}
