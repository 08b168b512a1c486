//! Loader and checker on small fixture trees written to a temporary directory.

use std::fs;
use std::path::Path;

use super::*;

const TODAY: (i32, u8, u8) = (2026, 11, 23);

pub(crate) fn examples(stem: &str) -> String {
    let list: Vec<String> = (0..12).map(|i| format!("    \"{stem} question {i}\",")).collect();
    format!("examples = [\n{}\n]\n", list.join("\n"))
}

pub(crate) fn topic_toml(slug: &str, flow: u8, ex: &str) -> String {
    let answer = "Une phrase courte pour dire où agir. ".repeat(9);
    format!(
        "slug = \"{slug}\"\nflow = {flow}\ntitle = \"Titre {slug}\"\naction = \"answer\"\n\
         keywords = [\"mot\"]\n{}answer = \"\"\"\n{answer}\n\"\"\"\n\
         sources = [\"https://www.caf.fr/allocataires\"]\nreviewed = 2026-11-01\n",
        examples(ex)
    )
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(p, text).unwrap();
}

/// A complete, valid base of two topics.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "catalog.tsv", "slug\tchoix\nalpha\t2\nbeta\t3\n");
    write(d, "alpha.toml", &topic_toml("alpha", 2, "alpha"));
    write(d, "beta.toml", &topic_toml("beta", 3, "beta"));
    write(d, "_intents/agent.toml", &format!("intent = \"@agent\"\n{}", examples("agent")));
    write(d, "_intents/none.toml", &format!("intent = \"@none\"\n{}", examples("none")));
    dir
}

fn reasons(kb: &KnowledgeBase) -> Vec<String> {
    kb.check(TODAY).iter().map(|d| d.to_string()).collect()
}

#[test]
fn valid_fixture_has_no_diagnostics() {
    let dir = fixture();
    let kb = KnowledgeBase::load(dir.path()).unwrap();
    assert_eq!(kb.topics.len(), 2);
    assert_eq!(kb.topic("beta").map(|t| t.flow), Some(3));
    assert!(reasons(&kb).is_empty(), "{:?}", reasons(&kb));
}

#[test]
fn syntax_error_is_reported_with_its_line() {
    let dir = fixture();
    let bad = topic_toml("alpha", 2, "alpha").replace("flow = 2", "flow = = 2");
    write(dir.path(), "alpha.toml", &bad);
    let err = KnowledgeBase::load(dir.path()).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert!(err.0[0].file.ends_with("alpha.toml"));
    assert_eq!(err.0[0].line, 2, "{}", err);
}

#[test]
fn unknown_key_and_wrong_type_fail_to_load() {
    let dir = fixture();
    write(dir.path(), "alpha.toml", &format!("{}colour = \"red\"\n", topic_toml("alpha", 2, "alpha")));
    write(dir.path(), "beta.toml", &topic_toml("beta", 3, "beta").replace("flow = 3", "flow = \"trois\""));
    let err = KnowledgeBase::load(dir.path()).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.0.len(), 2, "{text}");
    assert!(text.contains("colour"), "{text}");
    assert!(err.0.iter().any(|d| d.file.ends_with("beta.toml") && d.line == 2), "{text}");
}

#[test]
fn check_finds_content_problems_at_their_lines() {
    let dir = fixture();
    let long = "mot ".repeat(130);
    let t = topic_toml("alpha", 3, "alpha")
        .replace("https://www.caf.fr/allocataires", "https://example.com/x")
        .replace("reviewed = 2026-11-01", "reviewed = 2027-01-01")
        .replace("Une phrase courte pour dire où agir. ", &format!("{long} ").replace("mot mot", "mot"));
    write(dir.path(), "alpha.toml", &t);
    write(dir.path(), "gamma.toml", &topic_toml("gamma", 2, "gamma"));
    let kb = KnowledgeBase::load(dir.path()).unwrap();
    let r = reasons(&kb).join("\n");
    assert!(r.contains("alpha.toml:2: flow 3 but the catalog says choix 2"), "{r}");
    assert!(r.contains("alpha.toml:23: source host \"example.com\""), "{r}");
    assert!(r.contains("alpha.toml:24: reviewed date 2027-01-01 is in the future"), "{r}");
    assert!(r.contains("answer takes about"), "{r}");
    assert!(r.contains("gamma.toml:1: unknown slug \"gamma\""), "{r}");
}

#[test]
fn check_finds_missing_files_short_lists_and_duplicates() {
    let dir = fixture();
    fs::remove_file(dir.path().join("beta.toml")).unwrap();
    fs::remove_file(dir.path().join("_intents/none.toml")).unwrap();
    // The same phrasing, differently cased and accented, under @agent and alpha.
    let agent = format!("intent = \"@agent\"\n{}", examples("agent")).replace("agent question 3", "Alpha Question 3 !");
    write(dir.path(), "_intents/agent.toml", &agent);
    let short = topic_toml("alpha", 2, "alpha").replace("    \"alpha question 11\",\n", "");
    write(dir.path(), "alpha.toml", &short);
    let kb = KnowledgeBase::load(dir.path()).unwrap();
    let r = reasons(&kb).join("\n");
    assert!(r.contains("catalog.tsv:3: no topic file beta.toml"), "{r}");
    assert!(r.contains("missing intent file for @none"), "{r}");
    assert!(r.contains("11 examples, at least 12 needed"), "{r}");
    assert!(r.contains("agent.toml:6: example \"Alpha Question 3 !\" is also an example of alpha"), "{r}");
}

#[test]
fn spoken_forms_and_drafts_are_rejected() {
    let dir = fixture();
    let t = topic_toml("alpha", 2, "alpha").replace("Une phrase courte", "Allez sur caf.fr, TODO courte");
    write(dir.path(), "alpha.toml", &t);
    let kb = KnowledgeBase::load(dir.path()).unwrap();
    let r = reasons(&kb).join("\n");
    assert!(r.contains("caf point f r"), "{r}");
    assert!(r.contains("TODO"), "{r}");
}

#[test]
fn prompts_are_checked_for_ids_and_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for id in REQUIRED_PROMPTS {
        let body = match *id {
            "clarify" => "Vous parlez de {a} ou de {c} ?",
            "goodbye" => "",
            _ => "Bonjour.",
        };
        if *id != "crisis" {
            text.push_str(&format!("[{id}]\ntext = \"{body}\"\n\n"));
        }
    }
    text.push_str("[closed_holiday]\ntext = \"Fermé.\"\ninterruptible = false\n\n[keypad_menu.options]\n1 = \"alpha\"\n2 = \"nowhere\"\n0 = \"@agent\"\n");
    let path = dir.path().join("prompts.toml");
    fs::write(&path, text).unwrap();
    let p = Prompts::load(&path).unwrap();
    assert!(!p.get("closed_holiday").unwrap().interruptible);
    assert!(p.get("closed").unwrap().interruptible);
    let r: Vec<String> = p.check().iter().map(|d| d.to_string()).collect();
    let r = r.join("\n");
    assert!(r.contains("missing prompt [crisis]"), "{r}");
    assert!(r.contains("[clarify] unknown placeholder {c}"), "{r}");
    assert!(r.contains("[clarify] must contain the placeholder {b}"), "{r}");
    assert!(r.contains("[goodbye] text is empty"), "{r}");
    assert_eq!(p.get("keypad_menu").unwrap().options.len(), 3);
    let kb_dir = fixture();
    let kb = KnowledgeBase::load(kb_dir.path()).unwrap();
    let refs: Vec<String> = p.check_references(&kb).iter().map(|d| d.to_string()).collect();
    assert_eq!(refs.len(), 1, "{refs:?}");
    assert!(refs[0].contains("2 leads to unknown intent \"nowhere\""), "{refs:?}");
}

#[test]
fn spoken_seconds_uses_the_reading_rate() {
    assert_eq!(spoken_seconds("un deux trois quatre cinq , ."), 5.0 / WORDS_PER_SECOND);
}

#[test]
fn utc_date_converts_unix_time() {
    assert_eq!(utc_date(0), (1970, 1, 1));
    assert_eq!(utc_date(1_795_305_600 + 86_399), (2026, 11, 22));
    assert_eq!(utc_date(951_782_400), (2000, 2, 29));
}
