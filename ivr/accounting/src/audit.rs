//! The console's audit log (CCTP §7: access to personal data logged, logs kept 6 months,
//! tamper-evident): logins and failed logins, account changes, reads of personal data,
//! state changes and exports, with who, when and what.
//!
//! Rows are numbered without gaps (`seq`) and hash-chained: `hash = sha256(prev_hash ||
//! canonical row)`, where the canonical row is the JSON array `[seq, at_ms, actor, action,
//! target, detail]`. A head row keeps the last seq and hash (so a deleted tail shows) and
//! the anchor the purge leaves behind (the hash of the last purged row). Appends take the
//! head's row lock first, so concurrent writers (other instances included) are serialized.
//!
//! `detail` says what was done, never the personal data itself: "opened request 12", not
//! what the request holds.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::store::{on_pool, Store};
use crate::{Error, Result};

/// How long audit rows are kept: 6 months (CCTP §7), counted as 183 days.
pub const AUDIT_RETENTION_DAYS: u32 = 183;

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// Account name, or `-` for an unknown login name, `cli:<user>` for the command line.
    pub actor: String,
    /// Short verb: `login`, `login-failed`, `logout`, `account-add`, `request-open`, ...
    pub action: String,
    /// What it applied to: an account name, `request:12`, ...
    pub target: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What [`Store::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditVerify {
    /// Rows checked.
    pub rows: u64,
    /// The first problem, if any (seq and reason).
    pub broken: Option<(i64, String)>,
}

impl AuditVerify {
    pub fn ok(&self) -> bool {
        self.broken.is_none()
    }
}

/// The chain's hash of a row.
pub fn audit_hash(prev_hash: &str, seq: i64, at_ms: i64, actor: &str, action: &str, target: &str, detail: &str) -> String {
    // serde_json of a tuple of numbers and strings is deterministic: the canonical form.
    let canonical = serde_json::json!([seq, at_ms, actor, action, target, detail]).to_string();
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

fn at_ms(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| Error::Corrupt(format!("bad time {ms}")))
}

macro_rules! entry_from_row {
    ($r:expr) => {{
        let r = $r;
        AuditEntry {
            seq: r.try_get("seq")?,
            at: at_ms(r.try_get("at_ms")?)?,
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            target: r.try_get("target")?,
            detail: r.try_get("detail")?,
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        }
    }};
}

impl Store {
    /// Appends one row to the audit chain and returns its seq.
    pub async fn audit(&self, at: DateTime<Utc>, actor: &str, action: &str, target: &str, detail: &str) -> Result<i64> {
        let at_ms = at.timestamp_millis();
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            // The write comes first: it takes the head's lock (SQLite's write lock, the row
            // lock on PostgreSQL) before the head is read, so two appends cannot both link
            // to the same previous row.
            let r = sqlx::query("UPDATE console_audit_head SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq, last_hash")
                .fetch_one(&mut *tx).await?;
            let seq: i64 = r.try_get("last_seq")?;
            let prev: String = r.try_get("last_hash")?;
            let hash = audit_hash(&prev, seq, at_ms, actor, action, target, detail);
            sqlx::query("INSERT INTO console_audit (seq, at_ms, actor, action, target, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(seq).bind(at_ms).bind(actor).bind(action).bind(target).bind(detail).bind(&prev).bind(&hash)
                .execute(&mut *tx).await?;
            sqlx::query("UPDATE console_audit_head SET last_hash = $1 WHERE id = 1").bind(&hash).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(seq)
        })
    }

    /// The newest `limit` rows, newest first.
    pub async fn audit_entries(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query("SELECT seq, at_ms, actor, action, target, detail, prev_hash, hash FROM console_audit ORDER BY seq DESC LIMIT $1")
                .bind(i64::from(limit)).fetch_all(p).await?;
            rows.iter().map(|r| Ok(entry_from_row!(r))).collect()
        })
    }

    /// Walks the whole chain: contiguous seqs from the purge anchor, each row's prev_hash the
    /// previous row's hash, each hash recomputed, and the last row equal to the head.
    pub async fn verify_audit(&self) -> Result<AuditVerify> {
        let (head, rows): ((i64, String, i64, String), Vec<AuditEntry>) = on_pool!(&self.pool, p => {
            let h = sqlx::query("SELECT last_seq, last_hash, anchor_seq, anchor_hash FROM console_audit_head WHERE id = 1").fetch_one(p).await?;
            let head: (i64, String, i64, String) = (h.try_get("last_seq")?, h.try_get("last_hash")?, h.try_get("anchor_seq")?, h.try_get("anchor_hash")?);
            let rows = sqlx::query("SELECT seq, at_ms, actor, action, target, detail, prev_hash, hash FROM console_audit ORDER BY seq")
                .fetch_all(p).await?;
            let rows: Result<Vec<AuditEntry>> = rows.iter().map(|r| Ok(entry_from_row!(r))).collect();
            (head, rows?)
        });
        let (last_seq, last_hash, anchor_seq, anchor_hash) = head;
        let mut expect_seq = anchor_seq + 1;
        let mut prev = anchor_hash;
        let mut checked = 0u64;
        for e in &rows {
            let broken = if e.seq != expect_seq {
                Some(format!("expected row {expect_seq}, found {} (rows deleted or inserted)", e.seq))
            } else if e.prev_hash != prev {
                Some("does not link to the previous row".to_string())
            } else if audit_hash(&prev, e.seq, e.at.timestamp_millis(), &e.actor, &e.action, &e.target, &e.detail) != e.hash {
                Some("content does not match its hash (edited)".to_string())
            } else {
                None
            };
            if let Some(why) = broken {
                return Ok(AuditVerify { rows: checked, broken: Some((e.seq, why)) });
            }
            checked += 1;
            prev = e.hash.clone();
            expect_seq += 1;
        }
        if expect_seq - 1 != last_seq || prev != last_hash {
            return Ok(AuditVerify { rows: checked, broken: Some((expect_seq, format!("the chain ends before its head (row {last_seq}): rows deleted"))) });
        }
        Ok(AuditVerify { rows: checked, broken: None })
    }

    /// Deletes the rows older than `AUDIT_RETENTION_DAYS` at `now`, moving the chain's anchor
    /// to the last deleted row so the rest still verifies. Returns how many were deleted.
    pub async fn purge_audit(&self, now: DateTime<Utc>) -> Result<u64> {
        let cut = now.timestamp_millis().saturating_sub(i64::from(AUDIT_RETENTION_DAYS) * 86_400_000);
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            // Lock the head first, as appends do.
            sqlx::query("UPDATE console_audit_head SET anchor_seq = anchor_seq WHERE id = 1").execute(&mut *tx).await?;
            // Rows are appended in time order, so the purged ones are a prefix of the chain:
            // the cut is the last row older than the retention.
            let last = sqlx::query("SELECT seq, hash FROM console_audit WHERE at_ms < $1 ORDER BY seq DESC LIMIT 1")
                .bind(cut).fetch_optional(&mut *tx).await?;
            let Some(last) = last else {
                tx.commit().await?;
                return Ok(0);
            };
            let seq: i64 = last.try_get("seq")?;
            let hash: String = last.try_get("hash")?;
            let n = sqlx::query("DELETE FROM console_audit WHERE seq <= $1").bind(seq).execute(&mut *tx).await?.rows_affected();
            sqlx::query("UPDATE console_audit_head SET anchor_seq = $1, anchor_hash = $2 WHERE id = 1")
                .bind(seq).bind(&hash).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_every_field_and_the_previous_hash() {
        let base = audit_hash("00", 1, 5, "alice", "login", "alice", "");
        assert_eq!(base.len(), 64);
        assert_ne!(base, audit_hash("01", 1, 5, "alice", "login", "alice", ""));
        assert_ne!(base, audit_hash("00", 2, 5, "alice", "login", "alice", ""));
        assert_ne!(base, audit_hash("00", 1, 6, "alice", "login", "alice", ""));
        assert_ne!(base, audit_hash("00", 1, 5, "alicf", "login", "alice", ""));
        assert_ne!(base, audit_hash("00", 1, 5, "alice", "logout", "alice", ""));
        assert_ne!(base, audit_hash("00", 1, 5, "alice", "login", "bob", ""));
        assert_ne!(base, audit_hash("00", 1, 5, "alice", "login", "alice", "x"));
        // Field boundaries are part of the canonical form.
        assert_ne!(audit_hash("00", 1, 5, "ab", "c", "", ""), audit_hash("00", 1, 5, "a", "bc", "", ""));
    }
}
