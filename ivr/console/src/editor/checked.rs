//! A snapshot as the service would see it: written to a temporary directory, run through
//! the one checker (`nlu::knowledge::check_tree`, the same that refuses a version in
//! `ivr serve`), loaded as a knowledge base, and its matcher built on demand.
//!
//! Results are cached by snapshot digest (and checker day): the pages of one draft share
//! one check and one matcher, and a change of the draft changes the digest. The work runs
//! on the blocking pool (file I/O, tantivy indexing).

use std::sync::{Arc, Mutex, OnceLock};

use ivr_accounting::ContentSnapshot;
use nlu::knowledge::{check_tree, Diagnostic, KnowledgeBase};
use nlu::Matcher;

use crate::ConsoleError;

/// How many checked snapshots are kept (the draft, the published version, a few more).
const KEPT: usize = 6;

pub(crate) struct Checked {
    pub digest: String,
    /// Every problem, file paths relative to the content root (`knowledge/aah.toml`).
    pub diagnostics: Vec<Diagnostic>,
    /// None when a file does not even load (its error is in `diagnostics`).
    pub kb: Option<KnowledgeBase>,
    matcher: OnceLock<Option<Arc<Matcher>>>,
}

impl Checked {
    /// The problems of one file (`knowledge/aah.toml`).
    pub fn problems_of(&self, rel: &str) -> Vec<&Diagnostic> {
        self.diagnostics.iter().filter(|d| d.file.to_string_lossy() == rel).collect()
    }

    /// The messages as stored with a version (`file:line: reason`).
    pub fn messages(&self) -> Vec<String> {
        self.diagnostics.iter().map(|d| d.to_string()).collect()
    }
}

type Cache = Mutex<Vec<(String, Arc<Checked>)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

fn internal(e: impl std::fmt::Display) -> ConsoleError {
    ConsoleError::Internal(e.to_string())
}

/// Checks `snap` as of `today` (year, month, day).
pub(crate) async fn check(snap: &ContentSnapshot, today: (i32, u8, u8)) -> Result<Arc<Checked>, ConsoleError> {
    let digest = snap.digest();
    let key = format!("{digest}@{:04}-{:02}-{:02}", today.0, today.1, today.2);
    if let Some(hit) = cache().lock().map_err(internal)?.iter().find(|(k, _)| *k == key).map(|(_, c)| c.clone()) {
        return Ok(hit);
    }
    let snap = snap.clone();
    let checked = tokio::task::spawn_blocking(move || -> Result<Checked, ConsoleError> {
        let dir = tempfile::tempdir().map_err(internal)?;
        snap.write_to(dir.path()).map_err(internal)?;
        let diagnostics = check_tree(dir.path(), today);
        let kb = KnowledgeBase::load(ContentSnapshot::knowledge_dir(dir.path())).ok();
        Ok(Checked { digest, diagnostics, kb, matcher: OnceLock::new() })
    })
    .await
    .map_err(internal)??;
    let checked = Arc::new(checked);
    let mut c = cache().lock().map_err(internal)?;
    c.retain(|(k, _)| *k != key);
    c.push((key, checked.clone()));
    if c.len() > KEPT {
        c.remove(0);
    }
    Ok(checked)
}

/// The matcher of a checked snapshot, built once (None when the knowledge does not load or
/// the index cannot be built).
pub(crate) async fn matcher(checked: &Arc<Checked>) -> Result<Option<Arc<Matcher>>, ConsoleError> {
    if let Some(m) = checked.matcher.get() {
        return Ok(m.clone());
    }
    let c = checked.clone();
    tokio::task::spawn_blocking(move || {
        c.matcher
            .get_or_init(|| {
                let kb = c.kb.as_ref()?;
                match Matcher::build(kb) {
                    Ok(m) => Some(Arc::new(m)),
                    Err(e) => {
                        tracing::warn!(error = %e, digest = %c.digest, "draft matcher not built");
                        None
                    }
                }
            })
            .clone()
    })
    .await
    .map_err(internal)
}
