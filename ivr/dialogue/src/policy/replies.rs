//! Short spoken replies to the bot's own questions ("another question?", "which one?", a
//! procedure step, the keypad menu). The matcher is built for questions; "oui",
//! "répétez", "non merci, au revoir" are recognised here with plain word lists because
//! Whisper writes them in few ways. [`is_bare`] tells a reply said on its own ("non
//! merci, c'est tout") from a new question that starts like one ("non, je voudrais savoir
//! pour la prime d'activité"): only the second goes to the matcher's topic.

/// What the caller meant after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Repeat,
    Another,
    Agent,
    /// "rappelez-moi": the call-back request.
    Callback,
    /// Thanks, goodbye, "c'est tout", "ça ira", "c'est bon": the caller is done.
    Goodbye,
    /// A plain "non", "aucun des deux", "ni l'un ni l'autre": what was offered is declined,
    /// without a word of leaving.
    No,
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

/// Words that close a call: thanks, goodbye, "that is all".
fn closes(norm: &str, words: &[&str]) -> bool {
    [
        "au revoir",
        "c est tout",
        "ca ira",
        "ca va aller",
        "c est bon",
        "c etait tout",
        "bonne journee",
        "bonne soiree",
        "bonne fin de journee",
        "pas besoin",
        "pas la peine",
        "j ai compris",
        "j ai eu ma reponse",
        "j ai ma reponse",
        "j ai eu la reponse",
        "pas d autre",
        "pas d autres",
        "pas de question",
        "pas de questions",
        "plus de question",
        "plus de questions",
        "ce que je voulais",
    ]
    .iter()
    .any(|p| norm.contains(p))
        || has_word(words, &["merci", "rien", "termine", "fini", "suffit", "bye", "salut"])
}

/// "aucun des deux", "ni l'un ni l'autre": neither of the choices offered.
fn neither(norm: &str, words: &[&str]) -> bool {
    has_word(words, &["aucun", "aucune", "aucuns"]) || norm.contains("ni l un ni l autre") || norm.contains("ni l une ni l autre")
}

/// Agent words that cannot be anything else ("personne", "quelqu'un" can: "une personne
/// handicapée", "quelqu'un m'a dit que…").
pub fn names_an_agent(text: &str) -> bool {
    let norm = normalize(text);
    let words: Vec<&str> = norm.split(' ').collect();
    has_word(&words, &["conseiller", "conseillere", "conseillers", "agent", "operateur", "operatrice", "humain"])
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
    // "non merci, pas besoin d'un conseiller": no agent asked for.
    let declined = norm.contains("pas besoin") || norm.contains("pas la peine") || norm.contains("pas de conseiller");
    // Before the agent: "qu'un conseiller me rappelle" asks for a call back.
    if !declined && has_word(&words, &["rappeler", "rappelez", "rappelle", "rappele", "rappelee", "rappel"]) {
        return Some(Reply::Callback);
    }
    if !declined
        && has_word(&words, &["conseiller", "conseillere", "agent", "operateur", "operatrice", "humain", "quelqu", "personne"])
        && !norm.contains("personne a charge")
    {
        return Some(Reply::Agent);
    }
    // "je n'ai pas d'autre question" is a goodbye, below.
    let none_left = ["pas d autre", "pas une autre", "pas de question", "plus de question"].iter().any(|p| norm.contains(p));
    if (norm.contains("autre question") || norm.contains("une question") || norm.contains("autre chose")) && !none_left {
        return Some(Reply::Another);
    }
    // "aucun des deux" names a number but picks none.
    if neither(&norm, &words) {
        return Some(if closes(&norm, &words) { Reply::Goodbye } else { Reply::No });
    }
    // "je prends le deuxième, s'il vous plaît" is a choice; "un" or "deux" only in a very
    // short reply, as they also count things in questions.
    let core = norm.replace("s il vous plait", " ").replace("merci", " ");
    let core_len = core.split_whitespace().count();
    let choice = |ordinals: &[&str], numbers: &[&str]| (has_word(&words, ordinals) && core_len <= 5) || (has_word(&words, numbers) && words.len() <= 3);
    if choice(&["premier", "premiere"], &["un", "1"]) {
        return Some(Reply::First);
    }
    if choice(&["deuxieme", "second", "seconde", "dernier", "derniere"], &["deux", "2"]) {
        return Some(Reply::Second);
    }
    if closes(&norm, &words) {
        return Some(Reply::Goodbye);
    }
    if has_word(&words, &["non", "nan"]) {
        return Some(Reply::No);
    }
    if has_word(&words, &["oui", "ouais", "ouai", "volontiers", "si", "daccord", "ok", "okay"]) || norm.contains("d accord") {
        return Some(Reply::Another);
    }
    None
}

/// Words a reply is made of: the replies themselves, politeness, fillers and the grammar
/// around them. No topic word is here, so a sentence with one is never bare.
const REPLY_WORDS: &[&str] = &[
    // yes, no, neither
    "non",
    "nan",
    "oui",
    "ouais",
    "ouai",
    "si",
    "volontiers",
    "aucun",
    "aucune",
    "ni",
    // thanks, goodbye, done
    "merci",
    "beaucoup",
    "bien",
    "tres",
    "au",
    "revoir",
    "bonne",
    "journee",
    "soiree",
    "fin",
    "salut",
    "bye",
    "tout",
    "bon",
    "ira",
    "va",
    "aller",
    "rien",
    "fini",
    "termine",
    "suffit",
    "parfait",
    "super",
    "top",
    "nickel",
    "genial",
    "impeccable",
    "entendu",
    "clair",
    "gentil",
    "compris",
    "reponse",
    "besoin",
    "peine",
    "ok",
    "okay",
    "d",
    "accord",
    "daccord",
    "aussi",
    "pareillement",
    "egalement",
    "meme",
    // fillers
    "euh",
    "heu",
    "hum",
    "hm",
    "ben",
    "bah",
    "alors",
    "voila",
    "ah",
    "oh",
    "eh",
    "pardon",
    "bonjour",
    "madame",
    "monsieur",
    // repeat, another question, agent, call back, a choice
    "repeter",
    "repetez",
    "repete",
    "repetes",
    "redire",
    "redites",
    "recommencer",
    "reecouter",
    "encore",
    "fois",
    "autre",
    "autres",
    "question",
    "questions",
    "chose",
    "choses",
    "conseiller",
    "conseillere",
    "agent",
    "operateur",
    "operatrice",
    "humain",
    "quelqu",
    "personne",
    "parler",
    "rappeler",
    "rappelez",
    "rappelle",
    "rappel",
    "premier",
    "premiere",
    "deuxieme",
    "second",
    "seconde",
    "dernier",
    "derniere",
    "deux",
    "1",
    "2",
    "prends",
    "choisis",
    // the grammar around them
    "c",
    "ca",
    "est",
    "etait",
    "j",
    "je",
    "ai",
    "eu",
    "ma",
    "la",
    "le",
    "l",
    "un",
    "une",
    "des",
    "de",
    "du",
    "pas",
    "plus",
    "ne",
    "n",
    "s",
    "il",
    "vous",
    "plait",
    "me",
    "m",
    "moi",
    "a",
    "avec",
    "et",
    "puis",
    "voudrais",
    "veux",
    "voulais",
    "aimerais",
    "souhaite",
    "souhaiterais",
    "pourriez",
    "pouvez",
    "peux",
    "pourrais",
    "qu",
    "y",
    "en",
];

/// Longer closings whose words would otherwise make a question ("savoir").
const CLOSING_PHRASES: &[&str] = &["ce que je voulais savoir", "ce que je voulais", "ce qu il me fallait"];

/// The utterance is only a reply ("non merci, c'est tout", "le deuxième s'il vous
/// plaît"): every word is one of [`REPLY_WORDS`]. It is then read as a reply to the bot's
/// question whatever topic the matcher saw in it ("non" is also in "non-paiement").
pub fn is_bare(text: &str) -> bool {
    let mut norm = format!(" {} ", normalize(text));
    for p in CLOSING_PHRASES {
        norm = norm.replace(&format!(" {p} "), " ");
    }
    let mut any = false;
    for w in norm.split(' ').filter(|w| !w.is_empty()) {
        if !REPLY_WORDS.contains(&w) {
            return false;
        }
        any = true;
    }
    any && classify(text).is_some()
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

    #[test]
    fn declining_thanks_and_goodbye_are_bare_replies() {
        for said in [
            "Non.",
            "non merci",
            "Non merci, c'est tout.",
            "C'est bon, merci.",
            "Merci, au revoir.",
            "Ça ira, merci.",
            "Non non, c'est bon.",
            "Non, c'est tout ce que je voulais savoir, merci.",
            "Non merci, je n'ai pas d'autre question.",
            "Euh non, ça va aller, merci madame.",
            "Non, pas besoin d'un conseiller, merci.",
            "Parfait, merci beaucoup, bonne journée.",
        ] {
            let reply = classify(said);
            assert!(matches!(reply, Some(Reply::Goodbye | Reply::No)), "{said}: {reply:?}");
            assert!(is_bare(said), "{said}");
        }
        assert_eq!(classify("Non."), Some(Reply::No));
        assert_eq!(classify("non non"), Some(Reply::No));
        assert_eq!(classify("Non merci."), Some(Reply::Goodbye));
        assert_eq!(classify("Aucun des deux."), Some(Reply::No));
        assert_eq!(classify("ni l'un ni l'autre, merci au revoir"), Some(Reply::Goodbye));
        assert_eq!(classify("Non, pas besoin d'un conseiller, merci."), Some(Reply::Goodbye));
        assert_eq!(classify("je n'ai plus de question"), Some(Reply::Goodbye));
    }

    #[test]
    fn a_question_that_starts_like_a_reply_is_not_bare() {
        for said in [
            "Non, je voudrais savoir pour la prime d'activité.",
            "non mais le RSA c'est combien",
            "Oui, une question sur l'aide au logement.",
            "Merci. Et pour les allocations familiales ?",
            "quelqu'un m'a dit que j'avais droit à l'APL",
            "une personne handicapée a droit à quoi",
            "je voudrais savoir",
        ] {
            assert!(!is_bare(said), "{said}");
        }
        // Short replies are bare, whatever else they are.
        for said in ["Répétez, s'il vous plaît.", "Une autre question.", "Le deuxième.", "Je veux parler à un conseiller.", "oui", "rappelez-moi"] {
            assert!(is_bare(said), "{said}");
        }
        assert!(!names_an_agent("une personne handicapée"));
        assert!(names_an_agent("un conseiller s'il vous plaît"));
    }
}
