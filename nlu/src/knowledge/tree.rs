//! The one checker over a whole content tree (`knowledge/` and `prompts/prompts.toml` under
//! one root, the layout `ContentSnapshot::write_to` makes), shared by `ivr knowledge`, the
//! server (before it runs a version) and the console (before it offers to publish a draft),
//! so all three refuse the same things.

use std::path::Path;

use super::{Diagnostic, KnowledgeBase, Prompts};

/// Every problem of the content under `root`: load errors, topic and intent checks, prompt
/// checks and the prompts' references to intents. File paths are relative to `root`
/// (`knowledge/aah.toml:12: reason`), so a stored message means the same wherever the
/// tree was written. Empty = the tree can be published.
pub fn check_tree(root: &Path, today: (i32, u8, u8)) -> Vec<Diagnostic> {
    let mut out = check_dirs(&root.join("knowledge"), &root.join("prompts").join("prompts.toml"), today);
    for d in &mut out {
        if let Ok(rel) = d.file.strip_prefix(root) {
            d.file = rel.to_path_buf();
        }
    }
    out
}

/// [`check_tree`] for a knowledge directory and a prompt file that may live apart (paths
/// kept as given).
pub fn check_dirs(knowledge: &Path, prompts: &Path, today: (i32, u8, u8)) -> Vec<Diagnostic> {
    let kb = KnowledgeBase::load(knowledge);
    let mut out = match &kb {
        Ok(kb) => kb.check(today),
        Err(e) => e.0.clone(),
    };
    match Prompts::load(prompts) {
        Ok(p) => {
            out.extend(p.check());
            if let Ok(kb) = &kb {
                out.extend(p.check_references(kb));
            }
        }
        Err(d) => out.push(d),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_shipped(to: &Path) {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for sub in ["knowledge", "knowledge/_intents"] {
            std::fs::create_dir_all(to.join(sub)).unwrap();
            for e in std::fs::read_dir(repo.join(sub)).unwrap() {
                let p = e.unwrap().path();
                if p.is_file() {
                    std::fs::copy(&p, to.join(sub).join(p.file_name().unwrap())).unwrap();
                }
            }
        }
        std::fs::create_dir_all(to.join("prompts")).unwrap();
        std::fs::copy(repo.join("prompts/prompts.toml"), to.join("prompts/prompts.toml")).unwrap();
    }

    #[test]
    fn the_shipped_tree_is_valid_and_a_broken_file_is_named_relative_to_the_root() {
        let dir = tempfile::tempdir().unwrap();
        copy_shipped(dir.path());
        let today = super::super::utc_date(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(check_tree(dir.path(), today), vec![]);
        let (name, text) = std::fs::read_dir(dir.path().join("knowledge"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
            .min()
            .unwrap();
        std::fs::write(dir.path().join("knowledge").join(&name), text.replacen("answer", "answr", 1)).unwrap();
        let problems = check_tree(dir.path(), today);
        assert!(!problems.is_empty());
        assert!(problems.iter().any(|d| d.file == Path::new("knowledge").join(&name)), "{problems:?}");
    }
}
