//! The matcher in service: read by every call, replaced whole when content changes.

use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::knowledge::{KnowledgeBase, LoadError};
use crate::matcher::{MatchError, Matcher};

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Build(#[from] MatchError),
}

/// Calls take a snapshot (`current()`), so a reload never changes an index under a
/// running classification; the lock is held only for the pointer swap.
#[derive(Debug)]
pub struct SharedMatcher {
    current: RwLock<Arc<Matcher>>,
}

impl SharedMatcher {
    pub fn new(matcher: Matcher) -> Self {
        SharedMatcher { current: RwLock::new(Arc::new(matcher)) }
    }

    pub fn load(dir: impl AsRef<Path>) -> Result<Self, ReloadError> {
        let kb = KnowledgeBase::load(dir)?;
        Ok(SharedMatcher::new(Matcher::build(&kb)?))
    }

    pub fn current(&self) -> Arc<Matcher> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Builds a new matcher from `dir` and swaps it in; on error the previous one stays.
    pub fn reload(&self, dir: impl AsRef<Path>) -> Result<Arc<Matcher>, ReloadError> {
        let kb = KnowledgeBase::load(dir)?;
        let fresh = Arc::new(Matcher::build(&kb)?);
        match self.current.write() {
            Ok(mut g) => *g = Arc::clone(&fresh),
            Err(poisoned) => *poisoned.into_inner() = Arc::clone(&fresh),
        }
        Ok(fresh)
    }
}
