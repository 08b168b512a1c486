//! Reading `knowledge/` from disk into a [`KnowledgeBase`].

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::{Diagnostic, IntentEntry, KnowledgeBase, SourceFile, SpecialIntent, Topic, TopicEntry};

/// Why a knowledge base could not be loaded: one diagnostic per unreadable file.
#[derive(Debug, thiserror::Error)]
#[error("{}", render(.0))]
pub struct LoadError(pub Vec<Diagnostic>);

fn render(d: &[Diagnostic]) -> String {
    d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

/// `knowledge/catalog.tsv`: the contract list of topic slugs and their menu choice,
/// a copy of the evaluation catalog's first two columns.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub path: PathBuf,
    /// slug → (flow, line in the file)
    pub topics: BTreeMap<String, (u8, usize)>,
}

impl Catalog {
    pub fn parse(path: &Path, text: &str) -> Result<Catalog, Vec<Diagnostic>> {
        let mut topics = BTreeMap::new();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let mut cells = line.split('\t');
            let slug = cells.next().unwrap_or("").trim();
            let flow = cells.next().unwrap_or("").trim();
            if slug.is_empty() || slug.starts_with('#') || (n == 1 && slug == "slug") {
                continue;
            }
            if slug.starts_with('@') {
                continue;
            }
            match flow.parse::<u8>() {
                Ok(f @ (2 | 3)) => {
                    if topics.insert(slug.to_string(), (f, n)).is_some() {
                        errors.push(Diagnostic::new(path, n, format!("slug {slug} listed twice")));
                    }
                }
                _ => errors.push(Diagnostic::new(path, n, format!("choix must be 2 or 3, got {flow:?}"))),
            }
        }
        if errors.is_empty() {
            Ok(Catalog { path: path.to_path_buf(), topics })
        } else {
            Err(errors)
        }
    }
}

fn read(path: &Path) -> Result<SourceFile, Diagnostic> {
    fs::read_to_string(path).map(|text| SourceFile { path: path.to_path_buf(), text }).map_err(|e| Diagnostic::new(path, 1, format!("cannot read: {e}")))
}

/// Parses a TOML file, turning toml's byte span into a line number.
pub(crate) fn parse_toml<T: DeserializeOwned>(source: &SourceFile) -> Result<T, Diagnostic> {
    toml::from_str::<T>(&source.text).map_err(|e| {
        let line = e.span().map(|s| source.line_of_offset(s.start)).unwrap_or(1);
        Diagnostic::new(&source.path, line, e.message().trim().to_string())
    })
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let entries = fs::read_dir(dir).map_err(|e| Diagnostic::new(dir, 1, format!("cannot list: {e}")))?;
    let mut files: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml")).collect();
    files.sort();
    Ok(files)
}

impl KnowledgeBase {
    /// Loads every `*.toml` topic of `dir`, the intents of `dir/_intents/` and
    /// `dir/catalog.tsv`. Fails with every unreadable file's diagnostic at once, so
    /// one run shows all syntax errors; the caller keeps its previous base then.
    pub fn load(dir: impl AsRef<Path>) -> Result<KnowledgeBase, LoadError> {
        let dir = dir.as_ref();
        let mut errors = Vec::new();
        let mut topics = Vec::new();
        let mut intents = Vec::new();

        match toml_files(dir) {
            Ok(files) => {
                for path in files {
                    match read(&path).and_then(|s| parse_toml::<Topic>(&s).map(|t| (t, s))) {
                        Ok((topic, source)) => topics.push(TopicEntry { topic, source }),
                        Err(d) => errors.push(d),
                    }
                }
            }
            Err(d) => errors.push(d),
        }
        let intents_dir = dir.join("_intents");
        if intents_dir.is_dir() {
            match toml_files(&intents_dir) {
                Ok(files) => {
                    for path in files {
                        match read(&path).and_then(|s| parse_toml::<SpecialIntent>(&s).map(|t| (t, s))) {
                            Ok((intent, source)) => intents.push(IntentEntry { intent, source }),
                            Err(d) => errors.push(d),
                        }
                    }
                }
                Err(d) => errors.push(d),
            }
        }
        let catalog_path = dir.join("catalog.tsv");
        let catalog = if catalog_path.is_file() {
            match read(&catalog_path) {
                Ok(src) => match Catalog::parse(&catalog_path, &src.text) {
                    Ok(c) => Some(c),
                    Err(mut d) => {
                        errors.append(&mut d);
                        None
                    }
                },
                Err(d) => {
                    errors.push(d);
                    None
                }
            }
        } else {
            None
        };

        if !errors.is_empty() {
            return Err(LoadError(errors));
        }
        topics.sort_by(|a, b| a.topic.slug.cmp(&b.topic.slug));
        intents.sort_by(|a, b| a.intent.intent.cmp(&b.intent.intent));
        Ok(KnowledgeBase { dir: dir.to_path_buf(), topics, intents, catalog })
    }
}
