//! French number words to digits ("trois mille deux cent trente" → 3230, "dix sept" → 17),
//! and numbers read in pairs joined back ("32 30" → 3230), so a transcript that spells
//! out "le trente deux trente" meets the "3230" written in the content.

fn word_value(w: &str) -> Option<u32> {
    Some(match w {
        "zero" => 0,
        "un" | "une" => 1,
        "deux" => 2,
        "trois" => 3,
        "quatre" => 4,
        "cinq" => 5,
        "six" => 6,
        "sept" => 7,
        "huit" => 8,
        "neuf" => 9,
        "dix" => 10,
        "onze" => 11,
        "douze" => 12,
        "treize" => 13,
        "quatorze" => 14,
        "quinze" => 15,
        "seize" => 16,
        "vingt" | "vingts" => 20,
        "trente" => 30,
        "quarante" => 40,
        "cinquante" => 50,
        "soixante" => 60,
        "cent" | "cents" => 100,
        "mille" => 1000,
        _ => return None,
    })
}

/// Accumulates one number; refuses a word that cannot continue it (so "trente deux
/// trente" yields 32 then 30, as a phone number is read).
#[derive(Default)]
struct Acc {
    total: u32,
    current: u32,
    words: usize,
    prev: Option<u32>,
}

impl Acc {
    fn push(&mut self, v: u32) -> bool {
        let low = self.current % 100;
        let ok = match v {
            1000 => self.total == 0 && self.current < 1000,
            100 => low < 10 && self.current % 1000 < 100 && self.prev != Some(100),
            20 if self.prev == Some(4) && low == 4 => true, // quatre-vingt(s)
            20..=90 => low == 0,
            10..=19 => low == 0 || low == 60 || low == 80,
            0..=9 => low.is_multiple_of(10) && self.prev.is_none_or(|p| p >= 10),
            _ => false,
        };
        if !ok {
            return false;
        }
        match v {
            1000 => {
                self.total = self.current.max(1) * 1000;
                self.current = 0;
            }
            100 => self.current = self.current.max(1) * 100,
            20 if self.prev == Some(4) && low == 4 => self.current = self.current - 4 + 80,
            _ => self.current += v,
        }
        self.prev = Some(v);
        self.words += 1;
        true
    }

    fn value(&self) -> u32 {
        self.total + self.current
    }
}

/// Rewrites number words into digit tokens. "un"/"une" alone stay words (articles);
/// "et" is consumed inside "vingt et un".
pub fn words_to_digits(tokens: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        let starts = word_value(t).is_some() && t != "un" && t != "une";
        if !starts {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        let mut acc = Acc::default();
        let mut j = i;
        while j < tokens.len() {
            let w = tokens[j].as_str();
            if w == "et" && j + 1 < tokens.len() && matches!(tokens[j + 1].as_str(), "un" | "une" | "onze") && acc.words > 0 {
                j += 1;
                continue;
            }
            match word_value(w) {
                Some(v) if acc.push(v) => j += 1,
                _ => break,
            }
        }
        if acc.words == 0 {
            out.push(tokens[i].clone());
            i += 1;
        } else {
            out.push(acc.value().to_string());
            i = j;
        }
    }
    join_digit_groups(out)
}

/// "32 30" → "3230", "3 2 3 0" → "3230": phone numbers are read in pairs or digit by digit.
fn join_digit_groups(tokens: Vec<String>) -> Vec<String> {
    let is_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    'outer: while i < tokens.len() {
        for (width, min_run) in [(2usize, 2usize), (1, 3)] {
            let mut j = i;
            while j < tokens.len() && is_digits(&tokens[j], width) {
                j += 1;
            }
            if j - i >= min_run {
                out.push(tokens[i..j].concat());
                i = j;
                continue 'outer;
            }
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> String {
        words_to_digits(s.split_whitespace().map(String::from).collect()).join(" ")
    }

    #[test]
    fn converts_french_number_words() {
        assert_eq!(run("le trois mille deux cent trente"), "le 3230");
        assert_eq!(run("mon fils a dix sept ans"), "mon fils a 17 ans");
        assert_eq!(run("j'ai deux enfants"), "j'ai 2 enfants");
        assert_eq!(run("soixante dix huit"), "78");
        assert_eq!(run("quatre vingt douze"), "92");
        assert_eq!(run("vingt et un"), "21");
        assert_eq!(run("trois cents"), "300");
    }

    #[test]
    fn keeps_articles_and_joins_pairs() {
        assert_eq!(run("un conseiller"), "un conseiller");
        assert_eq!(run("le trente deux trente"), "le 3230");
        assert_eq!(run("appelez le 39 19"), "appelez le 3919");
        assert_eq!(run("le 3 2 3 0"), "le 3230");
        assert_eq!(run("2 enfants de 10 ans"), "2 enfants de 10 ans");
    }
}
