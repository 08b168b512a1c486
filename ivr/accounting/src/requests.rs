//! Procedure requests: what a caller asked the bot to pass on (a call-back for
//! non-allocataires, an attestation de non-paiement), stored in the accounting database so
//! that agents get them (`ivr requests`, later the console) on every instance.
//!
//! A request holds personal data (what the caller keyed and said): it lives only here, never
//! in a log, and is purged after its retention (see [`RequestRetention`]). The purge clears
//! the personal fields and marks the row `purged`; the row itself stays for the counts.
//! The caller's presented number is never stored: a call-back number is one the caller
//! keyed or said.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::event::Flow;
use crate::store::{on_pool, Store};
use crate::{Error, Result};

/// Which procedure produced the request (the dialogue's `ProcedureKind`, kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestKind {
    /// Call-back request (CCTP: for non-allocataires; the contact centre calls back).
    Rappel,
    /// Attestation de non-paiement sent by post.
    AttestationNonPaiement,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Rappel => "rappel",
            RequestKind::AttestationNonPaiement => "attestation-non-paiement",
        }
    }

    pub fn parse(s: &str) -> Option<RequestKind> {
        match s {
            "rappel" => Some(RequestKind::Rappel),
            "attestation-non-paiement" => Some(RequestKind::AttestationNonPaiement),
            _ => None,
        }
    }
}

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    /// Collected, waiting for an agent.
    New,
    /// An agent dealt with it (`ivr requests done`).
    Handled,
    /// Retention reached: the personal fields were erased.
    Purged,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::New => "new",
            RequestStatus::Handled => "handled",
            RequestStatus::Purged => "purged",
        }
    }

    pub fn parse(s: &str) -> Option<RequestStatus> {
        match s {
            "new" => Some(RequestStatus::New),
            "handled" => Some(RequestStatus::Handled),
            "purged" => Some(RequestStatus::Purged),
            _ => None,
        }
    }
}

/// A request as the bot hands it over at the end of the procedure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRequest {
    pub kind: RequestKind,
    pub call_id: String,
    pub flow: Flow,
    pub at: DateTime<Utc>,
    /// The matcher's topic of the question that led to the procedure (`@none` when the
    /// caller asked for a call-back in words the catalogue does not know).
    pub topic: Option<String>,
    /// Digits keyed during the procedure, without the final '#'.
    pub keyed: String,
    /// What the caller said during the procedure, pieces joined with " / ".
    pub transcript: String,
}

/// A stored request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub id: i64,
    pub kind: RequestKind,
    pub call_id: String,
    pub flow: Flow,
    pub created_at: DateTime<Utc>,
    pub topic: Option<String>,
    /// None once purged.
    pub keyed: Option<String>,
    /// None once purged.
    pub transcript: Option<String>,
    pub status: RequestStatus,
    pub handled_at: Option<DateTime<Utc>>,
    pub handled_by: Option<String>,
    pub purged_at: Option<DateTime<Utc>>,
}

/// How long requests keep their personal fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestRetention {
    /// Days after it was marked handled. Default 30.
    pub handled_days: u32,
    /// Days after it was made, handled or not: the upper bound. Default 90.
    pub max_days: u32,
}

impl Default for RequestRetention {
    fn default() -> Self {
        RequestRetention { handled_days: 30, max_days: 90 }
    }
}

/// Filter of [`Store::requests`].
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub status: Option<RequestStatus>,
    pub kind: Option<RequestKind>,
    /// Made at or after / before (exclusive) these instants.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// At most this many, newest first; None = all.
    pub limit: Option<u32>,
}

const COLUMNS: &str = "id, kind, call_id, flow, created_ms, topic, keyed, transcript, status, handled_ms, handled_by, purged_ms";

fn at_ms(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| Error::Corrupt(format!("bad time {ms}")))
}

macro_rules! request_from_row {
    ($r:expr) => {{
        let r = $r;
        let kind: String = r.try_get("kind")?;
        let status: String = r.try_get("status")?;
        let flow: i64 = r.try_get("flow")?;
        let handled: Option<i64> = r.try_get("handled_ms")?;
        let purged: Option<i64> = r.try_get("purged_ms")?;
        Request {
            id: r.try_get("id")?,
            kind: RequestKind::parse(&kind).ok_or_else(|| Error::Corrupt(format!("request kind {kind:?}")))?,
            call_id: r.try_get("call_id")?,
            flow: u8::try_from(flow).ok().and_then(Flow::from_number).ok_or_else(|| Error::Corrupt(format!("request flow {flow}")))?,
            created_at: at_ms(r.try_get("created_ms")?)?,
            topic: r.try_get("topic")?,
            keyed: r.try_get("keyed")?,
            transcript: r.try_get("transcript")?,
            status: RequestStatus::parse(&status).ok_or_else(|| Error::Corrupt(format!("request status {status:?}")))?,
            handled_at: handled.map(at_ms).transpose()?,
            handled_by: r.try_get("handled_by")?,
            purged_at: purged.map(at_ms).transpose()?,
        }
    }};
}

impl Store {
    /// Stores a new request (status `new`) and returns its id.
    pub async fn insert_request(&self, req: &NewRequest) -> Result<i64> {
        let id: i64 = on_pool!(&self.pool, p => {
            sqlx::query("INSERT INTO requests (kind, call_id, flow, created_ms, topic, keyed, transcript, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'new') RETURNING id")
                .bind(req.kind.as_str()).bind(&req.call_id).bind(i64::from(req.flow.number()))
                .bind(req.at.timestamp_millis()).bind(&req.topic).bind(&req.keyed).bind(&req.transcript)
                .fetch_one(p).await?.try_get("id")?
        });
        Ok(id)
    }

    /// Requests matching `filter`, newest first.
    pub async fn requests(&self, filter: &RequestFilter) -> Result<Vec<Request>> {
        let mut sql = format!("SELECT {COLUMNS} FROM requests WHERE created_ms >= $1 AND created_ms < $2");
        if filter.status.is_some() {
            sql.push_str(" AND status = $3");
        } else {
            sql.push_str(" AND $3 = $3");
        }
        if filter.kind.is_some() {
            sql.push_str(" AND kind = $4");
        } else {
            sql.push_str(" AND $4 = $4");
        }
        sql.push_str(" ORDER BY created_ms DESC, id DESC LIMIT $5");
        let from = filter.from.map_or(i64::MIN, |t| t.timestamp_millis());
        let to = filter.to.map_or(i64::MAX, |t| t.timestamp_millis());
        let status = filter.status.map_or("", RequestStatus::as_str);
        let kind = filter.kind.map_or("", RequestKind::as_str);
        let limit = filter.limit.map_or(i64::MAX, i64::from);
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(&sql).bind(from).bind(to).bind(status).bind(kind).bind(limit).fetch_all(p).await?;
            rows.iter().map(|r| Ok(request_from_row!(r))).collect()
        })
    }

    /// One request by id.
    pub async fn request(&self, id: i64) -> Result<Option<Request>> {
        let sql = format!("SELECT {COLUMNS} FROM requests WHERE id = $1");
        on_pool!(&self.pool, p => {
            match sqlx::query(&sql).bind(id).fetch_optional(p).await? {
                Some(r) => Ok(Some(request_from_row!(&r))),
                None => Ok(None),
            }
        })
    }

    /// Marks a `new` request handled by `by` (an agent's name or login). Returns false when
    /// there is no such request or it is not `new` (already handled, or purged).
    pub async fn mark_request_handled(&self, id: i64, by: &str, at: DateTime<Utc>) -> Result<bool> {
        let n = on_pool!(&self.pool, p => {
            sqlx::query("UPDATE requests SET status = 'handled', handled_ms = $1, handled_by = $2 WHERE id = $3 AND status = 'new'")
                .bind(at.timestamp_millis()).bind(by).bind(id).execute(p).await?.rows_affected()
        });
        Ok(n > 0)
    }

    /// Erases the personal fields of requests past their retention at `now` and marks them
    /// `purged`. Returns how many were purged.
    pub async fn purge_requests(&self, retention: RequestRetention, now: DateTime<Utc>) -> Result<u64> {
        let day_ms = 86_400_000i64;
        let now_ms = now.timestamp_millis();
        let handled_cut = now_ms.saturating_sub(i64::from(retention.handled_days) * day_ms);
        let max_cut = now_ms.saturating_sub(i64::from(retention.max_days) * day_ms);
        let n = on_pool!(&self.pool, p => {
            sqlx::query("UPDATE requests SET keyed = NULL, transcript = NULL, status = 'purged', purged_ms = $1 WHERE status <> 'purged' AND ((status = 'handled' AND handled_ms < $2) OR created_ms < $3)")
                .bind(now_ms).bind(handled_cut).bind(max_cut).execute(p).await?.rows_affected()
        });
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_round_trip() {
        for k in [RequestKind::Rappel, RequestKind::AttestationNonPaiement] {
            assert_eq!(RequestKind::parse(k.as_str()), Some(k));
        }
        for s in [RequestStatus::New, RequestStatus::Handled, RequestStatus::Purged] {
            assert_eq!(RequestStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RequestKind::parse("other"), None);
        assert_eq!(RequestStatus::parse("done"), None);
    }

    #[test]
    fn retention_defaults_are_the_documented_ones() {
        let r = RequestRetention::default();
        assert_eq!((r.handled_days, r.max_days), (30, 90));
    }
}
