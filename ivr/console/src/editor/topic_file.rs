//! Reading and writing the fields of a topic file (`knowledge/<slug>.toml`) in place with
//! `toml_edit`: the keys an editor changes are replaced, everything else (comments, key
//! order, `complex`, `procedure`, `follow_up`) stays as written. Values the checker must
//! judge are written as typed, even when wrong (a reviewed date that is not a date becomes
//! a string the checker reports with its line), so an invalid draft is saved, shown with
//! its problems, and cannot be published.

use toml_edit::{Array, DocumentMut, Item, Value};

/// The fields of the topic form.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TopicFields {
    pub slug: String,
    pub flow: u8,
    pub title: String,
    pub action: String,
    pub keywords: Vec<String>,
    pub examples: Vec<String>,
    pub answer: String,
    pub short_answer: String,
    pub sources: Vec<String>,
    pub reviewed: String,
}

fn str_of(doc: &DocumentMut, key: &str) -> String {
    match doc.get(key) {
        Some(Item::Value(Value::String(s))) => s.value().clone(),
        Some(Item::Value(v)) => v.to_string().trim().to_string(),
        _ => String::new(),
    }
}

fn list_of(doc: &DocumentMut, key: &str) -> Vec<String> {
    match doc.get(key).and_then(Item::as_array) {
        Some(a) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        None => Vec::new(),
    }
}

/// The fields of a topic file; a file that is not TOML at all is an error.
pub(crate) fn read(text: &str) -> Result<TopicFields, String> {
    let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.to_string())?;
    let flow = doc.get("flow").and_then(Item::as_integer).and_then(|f| u8::try_from(f).ok()).unwrap_or(2);
    Ok(TopicFields {
        slug: str_of(&doc, "slug"),
        flow,
        title: str_of(&doc, "title"),
        action: str_of(&doc, "action"),
        keywords: list_of(&doc, "keywords"),
        examples: list_of(&doc, "examples"),
        answer: str_of(&doc, "answer").trim().to_string(),
        short_answer: str_of(&doc, "short_answer").trim().to_string(),
        sources: list_of(&doc, "sources"),
        reviewed: str_of(&doc, "reviewed"),
    })
}

/// A TOML basic string, as a multi-line one when the text has several lines (the layout
/// the shipped files use for answers).
fn text_value(text: &str) -> Value {
    if text.contains('\n') {
        let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = format!("\"\"\"\n{escaped}\n\"\"\"").parse::<Value>() {
            return v;
        }
    }
    Value::from(text)
}

fn inline_list(items: &[String]) -> Value {
    Value::Array(items.iter().map(String::as_str).collect::<Array>())
}

/// One item per line, as the shipped files list their phrasings.
fn long_list(items: &[String]) -> Value {
    let mut a: Array = items.iter().map(String::as_str).collect();
    for v in a.iter_mut() {
        v.decor_mut().set_prefix("\n  ");
    }
    a.set_trailing_comma(!items.is_empty());
    a.set_trailing(if items.is_empty() { "" } else { "\n" });
    Value::Array(a)
}

fn set(doc: &mut DocumentMut, key: &str, value: Value) {
    match doc.get_mut(key) {
        Some(Item::Value(v)) => {
            let decor = v.decor().clone();
            *v = value;
            *v.decor_mut() = decor;
        }
        _ => {
            doc.insert(key, Item::Value(value));
        }
    }
}

/// `original` (the current file, or None for a new topic) with the form's fields written.
/// An empty short answer removes the key (it is optional).
pub(crate) fn write(original: Option<&str>, f: &TopicFields) -> Result<String, String> {
    let mut doc: DocumentMut = match original {
        Some(t) => t.parse().map_err(|e: toml_edit::TomlError| e.to_string())?,
        None => DocumentMut::new(),
    };
    set(&mut doc, "slug", Value::from(f.slug.as_str()));
    set(&mut doc, "flow", Value::from(i64::from(f.flow)));
    set(&mut doc, "title", Value::from(f.title.as_str()));
    set(&mut doc, "action", Value::from(f.action.as_str()));
    set(&mut doc, "keywords", inline_list(&f.keywords));
    set(&mut doc, "examples", long_list(&f.examples));
    // A multi-line answer is written `"""` newline, text, newline `"""`: its value ends
    // with one newline, as in the shipped files.
    set(&mut doc, "answer", text_value(&f.answer.trim().replace("\r\n", "\n")));
    let short = f.short_answer.trim().replace("\r\n", "\n");
    if short.is_empty() {
        doc.remove("short_answer");
    } else {
        set(&mut doc, "short_answer", text_value(&short));
    }
    set(&mut doc, "sources", inline_list(&f.sources));
    // A date when it is one; otherwise the text as typed, for the checker to report.
    let reviewed = f.reviewed.trim();
    let date = reviewed.parse::<toml_edit::Datetime>().ok().filter(|d| d.date.is_some() && d.time.is_none());
    match date {
        Some(d) => set(&mut doc, "reviewed", Value::from(d)),
        None => set(&mut doc, "reviewed", Value::from(reviewed)),
    }
    Ok(doc.to_string())
}

/// `text` (a topic or `_intents` file) with `example` appended to its `examples`, unless
/// the same phrasing is already there.
pub(crate) fn add_example(text: &str, example: &str) -> Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.to_string())?;
    let mut items = list_of(&doc, "examples");
    let example = example.trim();
    if example.is_empty() || items.iter().any(|e| e.trim().eq_ignore_ascii_case(example)) {
        return Ok(text.to_string());
    }
    items.push(example.to_string());
    set(&mut doc, "examples", long_list(&items));
    Ok(doc.to_string())
}

/// Lines of a textarea, trimmed, empty ones dropped.
pub(crate) fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAH: &str = include_str!("../../../../knowledge/aah.toml");

    #[test]
    fn an_unchanged_form_writes_the_same_topic() {
        let f = read(AAH).unwrap();
        assert_eq!(f.slug, "aah");
        assert!(f.examples.len() > 5);
        let out = write(Some(AAH), &f).unwrap();
        let back = read(&out).unwrap();
        assert_eq!(back, f);
        // The parsed values are the same as the original file's (serde view).
        let a: toml::Table = toml::from_str(AAH).unwrap();
        let b: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_bad_date_stays_as_typed_and_quotes_survive() {
        let mut f = read(AAH).unwrap();
        f.reviewed = "32/13/2026".into();
        f.answer = "Dites \"oui\".\nPuis \\ attendez.".into();
        f.short_answer.clear();
        let out = write(Some(AAH), &f).unwrap();
        let t: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(t["reviewed"].as_str(), Some("32/13/2026"));
        assert_eq!(t["answer"].as_str(), Some("Dites \"oui\".\nPuis \\ attendez.\n"));
        assert!(!t.contains_key("short_answer"));
    }

    #[test]
    fn examples_are_added_once() {
        let out = add_example(AAH, "ma question toute neuve").unwrap();
        let f = read(&out).unwrap();
        assert_eq!(f.examples.last().map(String::as_str), Some("ma question toute neuve"));
        assert_eq!(add_example(&out, "Ma question toute neuve").unwrap(), out);
    }
}
