//! Character-level normalisation: lowercase, ASCII folding of French letters,
//! apostrophes and punctuation to spaces.

/// Lowercases and folds one character to ASCII; `None` for characters that separate words.
fn fold_char(c: char, out: &mut String) {
    let lower = c.to_lowercase();
    for c in lower {
        let s: &str = match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => "a",
            'ç' => "c",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'î' | 'ï' | 'í' | 'ì' => "i",
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => "o",
            'ù' | 'û' | 'ü' | 'ú' => "u",
            'ÿ' | 'ý' => "y",
            'ñ' => "n",
            'œ' => "oe",
            'æ' => "ae",
            // Typographic apostrophes and the ASCII one are kept for elision.
            '\'' | '’' | 'ʼ' | '`' | '´' => "'",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            // Keep "3230" and "caf.fr" readable: dots between letters/digits are handled by the
            // caller; everything else separates words.
            '.' => ".",
            _ => " ",
        };
        out.push_str(s);
    }
}

/// Lowercase + ASCII folding + punctuation to spaces, words separated by one space.
/// Apostrophes stay (elision is handled by the tokenizer); dots are kept only inside
/// a word ("caf.fr").
pub fn fold_text(text: &str) -> String {
    let mut raw = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut raw);
    }
    let bytes: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len());
    for (i, &c) in bytes.iter().enumerate() {
        let keep = match c {
            '.' | '\'' => {
                let prev = i.checked_sub(1).and_then(|j| bytes.get(j)).is_some_and(|p| p.is_ascii_alphanumeric());
                let next = bytes.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric());
                prev && next
            }
            _ => true,
        };
        out.push(if keep { c } else { ' ' });
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_french_letters_and_punctuation() {
        assert_eq!(fold_text("Où est-ce que J’ai reçu l'ÉTÉ ?"), "ou est ce que j'ai recu l'ete");
        assert_eq!(fold_text("caf.fr, cœur..."), "caf.fr coeur");
        assert_eq!(fold_text("  "), "");
    }
}
