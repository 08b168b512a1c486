//! A whole content set as data: every file of `knowledge/` (topics, `_intents/`,
//! `catalog.tsv`) and `prompts/prompts.toml`, by path relative to the content root
//! (`knowledge/aah.toml`, `knowledge/_intents/none.toml`, `prompts/prompts.toml`). A
//! published version is one immutable snapshot; a draft is a snapshot being edited.
//!
//! Written back to a directory ([`ContentSnapshot::write_to`]) it is the same tree as the
//! repository's, so the loaders, the checker and `ivr knowledge export` read it unchanged.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const KNOWLEDGE_DIR: &str = "knowledge";
pub const PROMPTS_FILE: &str = "prompts/prompts.toml";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}: not a content path (knowledge/*.toml, knowledge/_intents/*.toml, knowledge/catalog.tsv or prompts/prompts.toml)")]
    BadPath(String),
    #[error("no topic in {0}")]
    Empty(PathBuf),
}

/// Path (relative, `/`-separated) → text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentSnapshot {
    pub files: BTreeMap<String, String>,
}

/// Whether `rel` is a path a content snapshot may hold (no `..`, no absolute path, only
/// the known places), so writing a snapshot never leaves its directory.
pub fn is_content_path(rel: &str) -> bool {
    let p = Path::new(rel);
    if p.components().any(|c| !matches!(c, Component::Normal(_))) {
        return false;
    }
    let parts: Vec<&str> = rel.split('/').collect();
    let toml = |n: &str| n.ends_with(".toml") && n.len() > 5 && !n.starts_with('.');
    match parts.as_slice() {
        ["knowledge", "catalog.tsv"] => true,
        ["knowledge", name] => toml(name),
        ["knowledge", "_intents", name] => toml(name),
        ["prompts", "prompts.toml"] => true,
        _ => false,
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io { path: path.to_path_buf(), source }
}

impl ContentSnapshot {
    /// Reads a knowledge directory and a prompts file (the repository's layout).
    pub fn from_dirs(knowledge: &Path, prompts_file: &Path) -> Result<ContentSnapshot, SnapshotError> {
        let mut files = BTreeMap::new();
        let read_dir = |dir: &Path, prefix: &str, files: &mut BTreeMap<String, String>| -> Result<(), SnapshotError> {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .map_err(io(dir))?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".toml") || (prefix == "knowledge" && n == "catalog.tsv"))
                .collect();
            names.sort();
            for n in names {
                let path = dir.join(&n);
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                files.insert(format!("{prefix}/{n}"), text);
            }
            Ok(())
        };
        read_dir(knowledge, "knowledge", &mut files)?;
        let intents = knowledge.join("_intents");
        if intents.is_dir() {
            read_dir(&intents, "knowledge/_intents", &mut files)?;
        }
        if !files.keys().any(|k| k.ends_with(".toml") && !k.starts_with("knowledge/_intents/")) {
            return Err(SnapshotError::Empty(knowledge.to_path_buf()));
        }
        let prompts = std::fs::read_to_string(prompts_file).map_err(io(prompts_file))?;
        files.insert(PROMPTS_FILE.to_string(), prompts);
        Ok(ContentSnapshot { files })
    }

    /// Writes the snapshot under `root` (`root/knowledge/…`, `root/prompts/prompts.toml`),
    /// removing `*.toml` topic files of `root/knowledge` that the snapshot does not hold
    /// (a retired topic must not linger). Refuses any path outside the content places.
    pub fn write_to(&self, root: &Path) -> Result<(), SnapshotError> {
        for rel in self.files.keys() {
            if !is_content_path(rel) {
                return Err(SnapshotError::BadPath(rel.clone()));
            }
        }
        for dir in [root.join(KNOWLEDGE_DIR), root.join(KNOWLEDGE_DIR).join("_intents")] {
            if dir.is_dir() {
                for e in std::fs::read_dir(&dir).map_err(io(&dir))?.filter_map(|e| e.ok()) {
                    let p = e.path();
                    let rel = p.strip_prefix(root).ok().map(|r| r.to_string_lossy().replace('\\', "/"));
                    if p.is_file() && rel.as_deref().is_some_and(|r| is_content_path(r) && !self.files.contains_key(r)) {
                        std::fs::remove_file(&p).map_err(io(&p))?;
                    }
                }
            }
        }
        for (rel, text) in &self.files {
            let path = root.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&path, text).map_err(io(&path))?;
        }
        Ok(())
    }

    pub fn knowledge_dir(root: &Path) -> PathBuf {
        root.join(KNOWLEDGE_DIR)
    }

    pub fn prompts_file(root: &Path) -> PathBuf {
        root.join(PROMPTS_FILE)
    }

    /// SHA-256 over every path and text, in order: equal snapshots, equal digests.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        for (k, v) in &self.files {
            h.update((k.len() as u64).to_le_bytes());
            h.update(k.as_bytes());
            h.update((v.len() as u64).to_le_bytes());
            h.update(v.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// The topic files (`knowledge/<slug>.toml`), by slug.
    pub fn topic_files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().filter_map(|(k, v)| {
            let name = k.strip_prefix("knowledge/")?;
            (!name.contains('/')).then_some(())?;
            Some((name.strip_suffix(".toml")?, v.as_str()))
        })
    }

    /// What changed from `self` to `other`, path by path.
    pub fn diff(&self, other: &ContentSnapshot) -> Vec<FileChange> {
        let mut out = Vec::new();
        for (k, v) in &self.files {
            match other.files.get(k) {
                None => out.push(FileChange::Removed(k.clone())),
                Some(w) if w != v => out.push(FileChange::Changed(k.clone())),
                Some(_) => {}
            }
        }
        for k in other.files.keys() {
            if !self.files.contains_key(k) {
                out.push(FileChange::Added(k.clone()));
            }
        }
        out.sort_by(|a, b| a.path().cmp(b.path()));
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    Added(String),
    Changed(String),
    Removed(String),
}

impl FileChange {
    pub fn path(&self) -> &str {
        match self {
            FileChange::Added(p) | FileChange::Changed(p) | FileChange::Removed(p) => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_content_paths_are_written() {
        assert!(is_content_path("knowledge/aah.toml"));
        assert!(is_content_path("knowledge/_intents/none.toml"));
        assert!(is_content_path("knowledge/catalog.tsv"));
        assert!(is_content_path("prompts/prompts.toml"));
        for bad in
            ["../etc/passwd", "knowledge/../x.toml", "/knowledge/a.toml", "knowledge/a.sh", "knowledge/x/y/z.toml", "prompts/other.toml", "knowledge/.toml"]
        {
            assert!(!is_content_path(bad), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let mut s = ContentSnapshot::default();
        s.files.insert("knowledge/../../evil.toml".into(), "x".into());
        assert!(matches!(s.write_to(dir.path()), Err(SnapshotError::BadPath(_))));
    }

    #[test]
    fn the_shipped_content_round_trips_and_retired_topics_are_removed() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let s = ContentSnapshot::from_dirs(&root.join("knowledge"), &root.join("prompts/prompts.toml")).unwrap();
        assert!(s.topic_files().count() > 40);
        assert!(s.files.contains_key("knowledge/_intents/none.toml"));
        assert!(s.files.contains_key("knowledge/catalog.tsv"));
        let dir = tempfile::tempdir().unwrap();
        s.write_to(dir.path()).unwrap();
        let back = ContentSnapshot::from_dirs(&ContentSnapshot::knowledge_dir(dir.path()), &ContentSnapshot::prompts_file(dir.path())).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.digest(), s.digest());
        let mut fewer = s.clone();
        let (slug, _) = s.topic_files().next().unwrap();
        let removed = format!("knowledge/{slug}.toml");
        fewer.files.remove(&removed);
        fewer.write_to(dir.path()).unwrap();
        assert!(!dir.path().join(&removed).exists());
        assert_eq!(s.diff(&fewer), vec![FileChange::Removed(removed)]);
    }
}
