//! Content versions in the database (DESIGN §11): immutable snapshots, publications (the
//! latest one is what every instance runs), the one shared draft being edited, and what each
//! running instance reports it loaded.
//!
//! A version's snapshot is never updated: a rollback is a new version made from an old
//! snapshot (note `retour à la version N`), then published, so the history only grows.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::ContentSnapshot;
use crate::store::{on_pool, Store};
use crate::{Error, Result};

/// One stored version (without its snapshot; see [`Store::content_version`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentVersion {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub author: String,
    pub note: String,
    /// [`ContentSnapshot::digest`] of the snapshot.
    pub digest: String,
    /// Checker messages at creation ("path:line: reason"); empty = valid.
    pub problems: Vec<String>,
    /// Set once this version has been published at least once.
    pub first_published_at: Option<DateTime<Utc>>,
}

/// One publication: from `at` on, `version` is what runs (until the next publication).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub seq: i64,
    pub version: i64,
    pub at: DateTime<Utc>,
    pub by: String,
}

/// The one shared draft: a snapshot being edited, starting from `base_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDraft {
    pub snapshot: ContentSnapshot,
    pub base_version: Option<i64>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// What a running instance last reported: the version it tried to load, and whether it runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceContent {
    pub instance: String,
    pub version: i64,
    /// False: the load failed and the instance kept its previous version (`detail` says why).
    pub ok: bool,
    pub detail: String,
    pub at: DateTime<Utc>,
}

fn at_ms(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| Error::Corrupt(format!("bad time {ms}")))
}

const VERSION_COLUMNS: &str = "id, created_ms, author, note, digest, problems, first_published_ms";

macro_rules! version_from_row {
    ($r:expr) => {{
        let r = $r;
        let problems: String = r.try_get("problems")?;
        let first: Option<i64> = r.try_get("first_published_ms")?;
        ContentVersion {
            id: r.try_get("id")?,
            created_at: at_ms(r.try_get("created_ms")?)?,
            author: r.try_get("author")?,
            note: r.try_get("note")?,
            digest: r.try_get("digest")?,
            problems: serde_json::from_str(&problems)?,
            first_published_at: first.map(at_ms).transpose()?,
        }
    }};
}

macro_rules! publication_from_row {
    ($r:expr) => {{
        let r = $r;
        Publication { seq: r.try_get("seq")?, version: r.try_get("version")?, at: at_ms(r.try_get("at_ms")?)?, by: r.try_get("published_by")? }
    }};
}

impl Store {
    /// Stores a new immutable version and returns its id. `problems` are the checker's
    /// messages for this snapshot (empty when valid); a version with problems can be kept
    /// and looked at but never published.
    pub async fn create_content_version(&self, snap: &ContentSnapshot, author: &str, note: &str, problems: &[String], at: DateTime<Utc>) -> Result<i64> {
        let json = serde_json::to_string(snap)?;
        let problems = serde_json::to_string(problems)?;
        let digest = snap.digest();
        let id: i64 = on_pool!(&self.pool, p => {
            sqlx::query("INSERT INTO content_versions (created_ms, author, note, digest, problems, snapshot) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                .bind(at.timestamp_millis()).bind(author).bind(note).bind(&digest).bind(&problems).bind(&json)
                .fetch_one(p).await?.try_get("id")?
        });
        Ok(id)
    }

    /// At most `limit` versions, newest first.
    pub async fn content_versions(&self, limit: i64) -> Result<Vec<ContentVersion>> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM content_versions ORDER BY id DESC LIMIT $1");
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(&sql).bind(limit).fetch_all(p).await?;
            rows.iter().map(|r| Ok(version_from_row!(r))).collect()
        })
    }

    /// One version with its snapshot.
    pub async fn content_version(&self, id: i64) -> Result<Option<(ContentVersion, ContentSnapshot)>> {
        let sql = format!("SELECT {VERSION_COLUMNS}, snapshot FROM content_versions WHERE id = $1");
        on_pool!(&self.pool, p => {
            match sqlx::query(&sql).bind(id).fetch_optional(p).await? {
                Some(r) => {
                    let snapshot: String = r.try_get("snapshot")?;
                    Ok(Some((version_from_row!(&r), serde_json::from_str(&snapshot)?)))
                }
                None => Ok(None),
            }
        })
    }

    /// Makes version `id` the one that runs. Refused with [`Error::UnknownContentVersion`]
    /// or [`Error::InvalidContentVersion`] (a version the checker found problems in).
    pub async fn publish_content_version(&self, id: i64, by: &str, at: DateTime<Utc>) -> Result<Publication> {
        let ms = at.timestamp_millis();
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let row = sqlx::query("SELECT problems FROM content_versions WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
            let Some(row) = row else {
                return Err(Error::UnknownContentVersion(id));
            };
            let problems: String = row.try_get("problems")?;
            let problems: Vec<String> = serde_json::from_str(&problems)?;
            if !problems.is_empty() {
                return Err(Error::InvalidContentVersion { id, problems });
            }
            let r = sqlx::query("INSERT INTO content_publications (version, at_ms, published_by) VALUES ($1, $2, $3) RETURNING seq, version, at_ms, published_by")
                .bind(id).bind(ms).bind(by).fetch_one(&mut *tx).await?;
            let publication = publication_from_row!(&r);
            sqlx::query("UPDATE content_versions SET first_published_ms = $1 WHERE id = $2 AND first_published_ms IS NULL").bind(ms).bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(publication)
        })
    }

    /// The latest publication and its version: what every instance should run. None before
    /// the first publication.
    pub async fn published_content(&self) -> Result<Option<(Publication, ContentVersion)>> {
        let Some(publication) = self.publications(1).await?.into_iter().next() else {
            return Ok(None);
        };
        let sql = format!("SELECT {VERSION_COLUMNS} FROM content_versions WHERE id = $1");
        let version = on_pool!(&self.pool, p => {
            let r = sqlx::query(&sql).bind(publication.version).fetch_optional(p).await?;
            match r {
                Some(r) => version_from_row!(&r),
                None => return Err(Error::Corrupt(format!("publication {} names a missing content version {}", publication.seq, publication.version))),
            }
        });
        Ok(Some((publication, version)))
    }

    /// At most `limit` publications, newest first.
    pub async fn publications(&self, limit: i64) -> Result<Vec<Publication>> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query("SELECT seq, version, at_ms, published_by FROM content_publications ORDER BY seq DESC LIMIT $1").bind(limit).fetch_all(p).await?;
            rows.iter().map(|r| Ok(publication_from_row!(r))).collect()
        })
    }

    /// The shared draft, if one is being edited.
    pub async fn content_draft(&self) -> Result<Option<ContentDraft>> {
        on_pool!(&self.pool, p => {
            match sqlx::query("SELECT snapshot, base_version, updated_ms, updated_by FROM content_draft WHERE id = 1").fetch_optional(p).await? {
                Some(r) => {
                    let snapshot: String = r.try_get("snapshot")?;
                    Ok(Some(ContentDraft {
                        snapshot: serde_json::from_str(&snapshot)?,
                        base_version: r.try_get("base_version")?,
                        updated_at: at_ms(r.try_get("updated_ms")?)?,
                        updated_by: r.try_get("updated_by")?,
                    }))
                }
                None => Ok(None),
            }
        })
    }

    /// Replaces the shared draft (creating it if there is none).
    pub async fn save_content_draft(&self, draft: &ContentDraft) -> Result<()> {
        let json = serde_json::to_string(&draft.snapshot)?;
        on_pool!(&self.pool, p => {
            sqlx::query("INSERT INTO content_draft (id, snapshot, base_version, updated_ms, updated_by) VALUES (1, $1, $2, $3, $4) \
                         ON CONFLICT (id) DO UPDATE SET snapshot = excluded.snapshot, base_version = excluded.base_version, updated_ms = excluded.updated_ms, updated_by = excluded.updated_by")
                .bind(&json).bind(draft.base_version).bind(draft.updated_at.timestamp_millis()).bind(&draft.updated_by)
                .execute(p).await?;
        });
        Ok(())
    }

    /// Drops the shared draft (nothing happens when there is none).
    pub async fn discard_content_draft(&self) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query("DELETE FROM content_draft WHERE id = 1").execute(p).await?;
        });
        Ok(())
    }

    /// Records what an instance loaded (one row per instance, replaced at each report).
    pub async fn report_instance_content(&self, r: &InstanceContent) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query("INSERT INTO content_instances (instance, version, ok, detail, at_ms) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (instance) DO UPDATE SET version = excluded.version, ok = excluded.ok, detail = excluded.detail, at_ms = excluded.at_ms")
                .bind(&r.instance).bind(r.version).bind(i64::from(r.ok)).bind(&r.detail).bind(r.at.timestamp_millis())
                .execute(p).await?;
        });
        Ok(())
    }

    /// Every instance's last report, by instance name.
    pub async fn instance_contents(&self) -> Result<Vec<InstanceContent>> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query("SELECT instance, version, ok, detail, at_ms FROM content_instances ORDER BY instance").fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    let ok: i64 = r.try_get("ok")?;
                    Ok(InstanceContent { instance: r.try_get("instance")?, version: r.try_get("version")?, ok: ok != 0, detail: r.try_get("detail")?, at: at_ms(r.try_get("at_ms")?)? })
                })
                .collect()
        })
    }
}
