//! The evaluation bar on the real knowledge base: the public dev utterances
//! (`shared/eval/dev.tsv`, beside the checkout) must be classified at ≥ 92 % with no
//! unsafe answer (a topic answered to an `@agent`/`@none` request). The dev sentences
//! are never in `knowledge/`: this measures the method, not memory.

use std::path::PathBuf;

use nlu::knowledge::KnowledgeBase;
use nlu::Matcher;

const BAR: f64 = 0.92;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn dev_set_accuracy_and_safety() {
    let dev = repo().join("../shared/eval/dev.tsv");
    let text = std::fs::read_to_string(&dev).unwrap_or_else(|e| panic!("{}: {e}", dev.display()));
    let kb = KnowledgeBase::load(repo().join("knowledge")).unwrap_or_else(|e| panic!("{e}"));
    let m = Matcher::build(&kb).unwrap();
    let (mut n, mut ok, mut unsafe_answers) = (0usize, 0usize, Vec::new());
    let mut misses = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split('\t').collect();
        if (i == 0 && cells[0] == "utterance") || cells.len() < 2 || cells[0].trim().is_empty() {
            continue;
        }
        let expected: Vec<&str> = cells[1].split('|').collect();
        let d = m.classify(cells[0]).unwrap();
        n += 1;
        let special = expected.iter().all(|e| e.starts_with('@'));
        if special && !d.intent.starts_with('@') {
            unsafe_answers.push(format!("{} -> {}", cells[0], d.intent));
        }
        if expected.contains(&d.intent.as_str()) {
            ok += 1;
        } else {
            misses.push(format!("{} -> {} (want {})", cells[0], d.intent, cells[1]));
        }
    }
    let acc = ok as f64 / n.max(1) as f64;
    eprintln!("dev: {ok}/{n} = {:.1}%\n{}", acc * 100.0, misses.join("\n"));
    assert!(n >= 100, "dev set too small: {n}");
    assert!(unsafe_answers.is_empty(), "unsafe answers: {unsafe_answers:#?}");
    assert!(acc >= BAR, "accuracy {:.1}% < {:.0}%", acc * 100.0, BAR * 100.0);
}
