//! `knowledge/` and `prompts/prompts.toml` as committed must pass every content check
//! (what `ivr knowledge check` prints).

use std::path::PathBuf;

use nlu::knowledge::{utc_date, KnowledgeBase, Prompts};

#[test]
fn committed_content_passes_the_checker() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let kb = KnowledgeBase::load(repo.join("knowledge")).unwrap_or_else(|e| panic!("{e}"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut problems: Vec<String> = kb.check(utc_date(now)).iter().map(|d| d.to_string()).collect();
    match Prompts::load(repo.join("prompts/prompts.toml")) {
        Ok(p) => {
            problems.extend(p.check().iter().map(|d| d.to_string()));
            problems.extend(p.check_references(&kb).iter().map(|d| d.to_string()));
        }
        Err(d) => problems.push(d.to_string()),
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every catalog slug has its file (checked above); the 50 slugs of shared/eval/topics.tsv
    // stay, new topics are additions.
    let catalog = kb.catalog.as_ref().map(|c| c.topics.len()).unwrap_or(0);
    assert_eq!(kb.topics.len(), catalog);
    assert!(kb.topics.len() >= 50, "{} topics", kb.topics.len());
}
