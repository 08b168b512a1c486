//! Text fixes before synthesis (DESIGN.md §5): Pico spells "CAF" letter by letter and
//! reads "caf.fr" badly, so the spoken forms are written out here once for every voice.

/// Rewrite a French text for the synthesizer.
pub fn prepare(text: &str) -> String {
    let mut s = text.replace(['\u{a0}', '\u{202f}'], " ");
    // Web addresses first, before "CAF" becomes "Caf".
    for (from, to) in [
        ("https://", ""),
        ("http://", ""),
        ("www.", ""),
        ("pension-alimentaire.caf.fr", "pension alimentaire point caf point f r"),
        ("caf.fr", "caf point f r"),
        ("Caf.fr", "caf point f r"),
        ("CAF.FR", "caf point f r"),
        ("service-public.fr", "service public point f r"),
        ("mesdroitssociaux.gouv.fr", "mes droits sociaux point gouv point f r"),
        ("monenfant.fr", "mon enfant point f r"),
        ("impots.gouv.fr", "impôts point gouv point f r"),
    ] {
        s = s.replace(from, to);
    }
    let mut out = String::with_capacity(s.len());
    for (i, word) in s.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&fix_word(word));
    }
    out.replace('€', " euros").replace("  ", " ").trim().to_string()
}

fn fix_word(word: &str) -> String {
    let core = word.trim_matches(|c: char| !c.is_alphanumeric());
    let (head, tail) = match word.find(core) {
        Some(start) if !core.is_empty() => (&word[..start], &word[start + core.len()..]),
        _ => return word.to_string(),
    };
    let spoken = match core {
        // Said as a word, not spelled.
        "CAF" | "Caf" | "CAFs" => "Caf".to_string(),
        "Cnaf" | "CNAF" => "Cnaf".to_string(),
        // Phone numbers said the way callers know them.
        "3230" => "32 30".to_string(),
        "3238" => "32 38".to_string(),
        "3919" => "39 19".to_string(),
        _ => core.to_string(),
    };
    format!("{head}{spoken}{tail}")
}

#[cfg(test)]
mod tests {
    use super::prepare;

    #[test]
    fn caf_and_addresses_are_spoken_forms() {
        assert_eq!(prepare("Rendez-vous sur caf.fr, rubrique CAF."), "Rendez-vous sur caf point f r, rubrique Caf.");
        assert_eq!(prepare("Appelez le 3919 ou le 3230."), "Appelez le 39 19 ou le 32 30.");
        assert_eq!(prepare("www.service-public.fr"), "service public point f r");
        assert_eq!(prepare("15 €"), "15 euros");
        assert_eq!(prepare("pension-alimentaire.caf.fr"), "pension alimentaire point caf point f r");
        assert_eq!(prepare("RSA et APL"), "RSA et APL");
    }
}
