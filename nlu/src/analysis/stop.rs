//! French stop words for transcripts: function words, auxiliaries and the fillers and
//! politeness of a phone call, which say nothing about the topic. Question words that
//! do ("quand", "combien", "pourquoi") and negations that carry meaning ("rien",
//! "aucun", "jamais") are kept; "non" is a stop word (a reply, "non merci"), and the
//! compounds it forms ("non-paiement") are joined before stop words are removed.

const STOP: &[&str] = &[
    "a", "ai", "aie", "ait", "alors", "as", "au", "aux", "avec", "avez", "avoir", "avons", "ben", "bah", "bon",
    "bonjour", "bonsoir", "c", "ca", "ce", "cela", "celle", "celui", "ces", "cet", "cette", "ceci", "chez",
    "comment", "d", "dans", "de", "des", "dire", "dis", "dit", "donc", "du", "elle", "elles", "en", "es", "est",
    "et", "etais", "etait", "ete", "etre", "eu", "euh", "eux", "fais", "faire", "fait", "faut", "hein", "hum",
    "il", "ils", "j", "je", "l", "la", "le", "les", "leur", "leurs", "lui", "m", "ma", "madame", "mais", "me",
    "merci", "meme", "mes", "moi", "mon", "monsieur", "n", "ne", "non", "nos", "notre", "nous", "o", "oh", "on", "ont",
    "ou", "oui", "par", "pas", "peu", "peut", "peux", "plait", "plus", "pour", "pouvez", "pourrais", "pourriez",
    "qu", "quel", "quelle", "quelles", "quels", "que", "quoi", "qui", "s", "sa", "sais", "savoir", "se", "ses",
    "si", "sil", "son", "sont", "suis", "sur", "svp", "t", "ta", "te", "tes", "toi", "ton", "tres", "tu", "un",
    "une", "va", "vais", "voila", "vos", "votre", "voudrais", "voudrait", "voulais", "voulez", "vous", "veux",
    "veut", "y", "ya", "hello", "allo", "ok", "okay", "ah", "eh", "bien", "aussi", "tout", "tous", "toute",
    "toutes", "cest", "jai", "jaimerais", "aimerais", "souhaite", "souhaiterais", "souhaiterai", "dois", "doit",
    "the", "trop", "etes", "sommes", "avez", "avaient", "avait", "serait", "sera", "tant", "ici", "la-bas", "depuis", "deja", "encore", "juste", "vraiment", "genre", "truc",
];

pub fn is_stop_word(w: &str) -> bool {
    STOP.contains(&w)
}
