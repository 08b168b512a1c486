//! Short spoken replies to "another question?" and "which one?" prompts. The matcher is
//! built for questions; "oui", "répétez", "non merci, au revoir" are recognised here with
//! plain word lists because Whisper writes them in few ways.

/// What the caller meant after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Repeat,
    Another,
    Agent,
    /// "rappelez-moi": the call-back request.
    Callback,
    Goodbye,
    /// "le premier" / "le deuxième" in a clarification.
    First,
    Second,
}

/// Lower-case, strip accents and punctuation, so "Répétez !" becomes "repetez".
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        };
        out.push(c);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn has_word(words: &[&str], any: &[&str]) -> bool {
    words.iter().any(|w| any.contains(w))
}

/// Wordings that can only mean "call me back" ("je voudrais être rappelé", "rappelez-moi"),
/// unlike "rappeler" alone, which is also "remember" ("je ne me rappelle plus de mon mot de
/// passe"). These start the call-back procedure even when the matcher found a topic.
pub fn asks_call_back(text: &str) -> bool {
    let norm = format!(" {} ", normalize(text));
    [
        " etre rappele ",
        " etre rappelee ",
        " etre rappeles ",
        " etre rappelees ",
        " rappelez moi ",
        " rappeler moi ",
        " qu on me rappelle ",
        " que l on me rappelle ",
        " que vous me rappeliez ",
        " me faire rappeler ",
        " demande de rappel ",
    ]
    .iter()
    .any(|p| norm.contains(p))
}

/// Classify a short reply; `None` when it is not one of the short replies (it may then be
/// a new question for the matcher).
pub fn classify(text: &str) -> Option<Reply> {
    let norm = normalize(text);
    let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return None;
    }
    // Order matters: "non merci au revoir" is a goodbye even though "merci" alone is too;
    // "oui une autre question" is "another".
    if has_word(&words, &["repeter", "repetez", "repete", "repetes", "redire", "redites", "recommencer", "reecouter"])
        || norm.contains("encore une fois")
        || norm.contains("pas compris")
        || norm.contains("pas entendu")
    {
        return Some(Reply::Repeat);
    }
    // Before the agent: "qu'un conseiller me rappelle" asks for a call back.
    if has_word(&words, &["rappeler", "rappelez", "rappelle", "rappele", "rappelee", "rappel"]) {
        return Some(Reply::Callback);
    }
    if has_word(&words, &["conseiller", "conseillere", "agent", "operateur", "operatrice", "humain", "quelqu", "personne"])
        && !norm.contains("personne a charge")
    {
        return Some(Reply::Agent);
    }
    if norm.contains("autre question") || norm.contains("une question") || norm.contains("autre chose") {
        return Some(Reply::Another);
    }
    // "je prends le deuxième, s'il vous plaît" is a choice; "un" or "deux" only in a very
    // short reply, as they also count things in questions.
    let core = norm.replace("s il vous plait", " ").replace("merci", " ");
    let core_len = core.split_whitespace().count();
    let choice = |ordinals: &[&str], numbers: &[&str]| {
        (has_word(&words, ordinals) && core_len <= 5) || (has_word(&words, numbers) && words.len() <= 3)
    };
    if choice(&["premier", "premiere"], &["un", "1"]) {
        return Some(Reply::First);
    }
    if choice(&["deuxieme", "second", "seconde", "dernier", "derniere"], &["deux", "2"]) {
        return Some(Reply::Second);
    }
    if norm.contains("au revoir")
        || norm.contains("c est tout")
        || norm.contains("ca ira")
        || norm.contains("c est bon")
        || norm.contains("bonne journee")
        || has_word(&words, &["non", "merci", "rien", "termine", "fini"])
    {
        return Some(Reply::Goodbye);
    }
    if has_word(&words, &["oui", "ouais", "ouai", "volontiers", "si", "daccord", "ok", "okay"])
        || norm.contains("d accord")
    {
        return Some(Reply::Another);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_replies() {
        assert_eq!(classify("Répétez, s'il vous plaît."), Some(Reply::Repeat));
        assert_eq!(classify("Pardon, j'ai pas compris"), Some(Reply::Repeat));
        assert_eq!(classify("Oui."), Some(Reply::Another));
        assert_eq!(classify("oui j'ai une autre question"), Some(Reply::Another));
        assert_eq!(classify("Non merci, au revoir."), Some(Reply::Goodbye));
        assert_eq!(classify("C'est tout, merci"), Some(Reply::Goodbye));
        assert_eq!(classify("je voudrais parler à un conseiller"), Some(Reply::Agent));
        assert_eq!(classify("Je voudrais qu'un conseiller me rappelle."), Some(Reply::Callback));
        assert_eq!(classify("rappelez-moi demain"), Some(Reply::Callback));
        assert_eq!(classify("je veux être rappelée"), Some(Reply::Callback));
        assert!(asks_call_back("Je voudrais être rappelé par la caf, s'il vous plaît."));
        assert!(asks_call_back("Rappelez-moi demain matin."));
        assert!(asks_call_back("est-ce qu'on peut me faire rappeler"));
        assert!(!asks_call_back("je ne me rappelle plus de mon mot de passe"));
        assert!(!asks_call_back("je n'arrive pas à me rappeler mon identifiant"));
        assert_eq!(classify("le premier"), Some(Reply::First));
        assert_eq!(classify("la deuxième"), Some(Reply::Second));
        assert_eq!(classify("Je prends le deuxième."), Some(Reply::Second));
        assert_eq!(classify("C'est le premier, s'il vous plaît."), Some(Reply::First));
        assert_eq!(classify("j'ai deux enfants à charge"), None);
        assert_eq!(classify("comment déclarer mes ressources trimestrielles"), None);
        assert_eq!(classify(""), None);
    }
}
