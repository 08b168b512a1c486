//! The content the editors work on: the shared draft if there is one, else the published
//! version. The draft is made from the published snapshot on the first change.

use chrono::{DateTime, Datelike, Utc};
use ivr_accounting::{ContentDraft, ContentSnapshot, ContentVersion, Publication};

use crate::{AppState, ConsoleError};

/// The draft and the published version, read together for one page.
pub(crate) struct Working {
    pub draft: Option<ContentDraft>,
    pub published: Option<(Publication, ContentVersion, ContentSnapshot)>,
}

impl Working {
    pub async fn load(state: &AppState) -> Result<Working, ConsoleError> {
        let store = state.store()?;
        let draft = store.content_draft().await?;
        let published = match store.published_content().await? {
            Some((p, v)) => store.content_version(v.id).await?.map(|(v, s)| (p, v, s)),
            None => None,
        };
        Ok(Working { draft, published })
    }

    /// What the pages show: the draft, else the published snapshot.
    pub fn current(&self) -> Option<&ContentSnapshot> {
        self.draft.as_ref().map(|d| &d.snapshot).or_else(|| self.published_snapshot())
    }

    pub fn published_snapshot(&self) -> Option<&ContentSnapshot> {
        self.published.as_ref().map(|(_, _, s)| s)
    }

    pub fn published_version(&self) -> Option<i64> {
        self.published.as_ref().map(|(_, v, _)| v.id)
    }

    /// The draft to change: the existing one, or a new one from the published snapshot.
    /// None when nothing was ever published (there is nothing to start from).
    pub fn into_draft(self, by: &str, now: DateTime<Utc>) -> Option<ContentDraft> {
        match self.draft {
            Some(mut d) => {
                d.updated_at = now;
                d.updated_by = by.to_string();
                Some(d)
            }
            None => self.published.map(|(_, v, snapshot)| ContentDraft { snapshot, base_version: Some(v.id), updated_at: now, updated_by: by.to_string() }),
        }
    }
}

/// Serializes the read, change and write of the shared draft within this process, so two
/// editors saving at the same moment both keep their change. (Instances sharing one
/// PostgreSQL database are not serialized: the later save of the same moment wins.)
pub(crate) async fn draft_lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// The draft to change, under the draft lock (held until the guard is dropped): the one
/// preamble of every handler that changes the content. None when nothing was ever published.
pub(crate) async fn open_draft(state: &AppState, by: &str) -> Result<Option<(tokio::sync::MutexGuard<'static, ()>, ContentDraft)>, ConsoleError> {
    let lock = draft_lock().await;
    let working = Working::load(state).await?;
    Ok(working.into_draft(by, state.now()).map(|draft| (lock, draft)))
}

/// The checker's "today" (year, month, day) in Paris, from the console's clock.
pub(crate) fn today(state: &AppState) -> (i32, u8, u8) {
    let d = ivr_accounting::paris_day(state.now());
    (d.year(), d.month() as u8, d.day() as u8)
}

/// The page shown when no content was ever published.
pub(crate) fn nothing_published(user: &crate::Authed) -> axum::response::Html<String> {
    crate::pages::layout(
        "Contenu",
        Some(user),
        maud::html! {
            (super::subnav(user))
            p class="error" role="alert" {
                "Aucune version du contenu n'a encore été publiée dans la base : le service publie le contenu du dépôt à son premier démarrage ("
                code { "ivr serve" } ")."
            }
        },
    )
}

/// The path of a topic's file in a snapshot.
pub(crate) fn topic_path(slug: &str) -> String {
    format!("knowledge/{slug}.toml")
}

pub(crate) const NONE_PATH: &str = "knowledge/_intents/none.toml";
pub(crate) const PROMPTS_PATH: &str = "prompts/prompts.toml";

/// A slug is lowercase ASCII words joined by '-' (it names a file).
pub(crate) fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 60
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_name_files_safely() {
        assert!(valid_slug("aide-logement"));
        assert!(valid_slug("rsa2"));
        for bad in ["", "../x", "Aide", "a b", "-a", "a-", "a/b", "é"] {
            assert!(!valid_slug(bad), "{bad}");
        }
    }
}
