//! Tamper evidence: each day's records form a hash chain, hash = sha256(prev ‖ "\n" ‖ body),
//! starting from a genesis value derived from the day. The head (last seq and hash) is kept
//! apart, so deleting the last record is detected too. Transcripts are not in the body (the
//! retention purge deletes them); the body holds their sha256 instead.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{day_text, on_pool, Store};
use crate::event::Caller;
use crate::record::CallRecord;
use crate::Result;

/// What is chained and stored as `call_records.body`.
#[derive(Serialize, Deserialize)]
pub(crate) struct Body {
    pub record: CallRecord,
    /// sha256 of each question's transcript, in question order.
    pub transcript_sha256: Vec<String>,
}

impl Body {
    /// Splits a record into its chained body (transcripts replaced by digests) and the texts.
    pub fn from_record(rec: &CallRecord) -> Result<(String, Vec<String>)> {
        let mut record = rec.clone();
        let mut texts = Vec::with_capacity(record.questions.len());
        let mut digests = Vec::with_capacity(record.questions.len());
        for q in &mut record.questions {
            let t = q.transcript.take().unwrap_or_default();
            digests.push(sha256_hex(t.as_bytes()));
            texts.push(t);
        }
        let body = serde_json::to_string(&Body { record, transcript_sha256: digests })?;
        Ok((body, texts))
    }
}

pub(crate) fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

pub(crate) fn genesis(day: NaiveDate) -> String {
    sha256_hex(format!("ivr-sc32-chain:{}", day_text(day)).as_bytes())
}

pub(crate) fn link(prev: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub day: NaiveDate,
    pub records: usize,
    /// Human-readable findings; empty means the day is intact.
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

struct Row_ {
    call_id: String,
    seq: i64,
    flow: i64,
    pseudonym: Option<String>,
    withheld: i64,
    started_ms: i64,
    ended_ms: i64,
    body: String,
    prev_hash: String,
    hash: String,
}

impl Store {
    /// The last link of a day's chain: (records, hash). Published at day close (log line and
    /// `ivr report close` output) so that rewriting a whole chain is detectable too.
    pub async fn chain_head(&self, day: NaiveDate) -> Result<Option<(i64, String)>> {
        let d = day_text(day);
        Ok(on_pool!(&self.pool, p => sqlx::query_as("SELECT seq, hash FROM chain_heads WHERE day = $1").bind(&d).fetch_optional(p).await?))
    }

    /// Re-walks the chain of `day`: contiguous sequence, each link recomputed from the stored
    /// body, indexed columns equal to the body, head equal to the last link, and surviving
    /// transcripts equal to their digests.
    pub async fn verify_day(&self, day: NaiveDate) -> Result<VerifyReport> {
        let d = day_text(day);
        let (rows, head, transcripts) = on_pool!(&self.pool, p => {
            let rows = sqlx::query("SELECT call_id, seq, flow, pseudonym, withheld, started_ms, ended_ms, body, prev_hash, hash FROM call_records WHERE day = $1 ORDER BY seq")
                .bind(&d).fetch_all(p).await?
                .iter().map(|r| -> std::result::Result<Row_, sqlx::Error> { Ok(Row_ {
                    call_id: r.try_get("call_id")?, seq: r.try_get("seq")?, flow: r.try_get("flow")?,
                    pseudonym: r.try_get("pseudonym")?, withheld: r.try_get("withheld")?,
                    started_ms: r.try_get("started_ms")?, ended_ms: r.try_get("ended_ms")?,
                    body: r.try_get("body")?, prev_hash: r.try_get("prev_hash")?, hash: r.try_get("hash")?,
                })}).collect::<std::result::Result<Vec<_>, _>>()?;
            let head: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM chain_heads WHERE day = $1").bind(&d).fetch_optional(p).await?;
            let transcripts: Vec<(String, i64, Option<String>)> = sqlx::query_as(
                "SELECT t.call_id, t.idx, t.text FROM transcripts t JOIN call_records r ON r.call_id = t.call_id WHERE r.day = $1")
                .bind(&d).fetch_all(p).await?;
            (rows, head, transcripts)
        });
        let mut problems = Vec::new();
        let mut prev = genesis(day);
        let mut bodies = std::collections::HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            let want_seq = i as i64 + 1;
            if r.seq != want_seq {
                problems.push(format!("seq {want_seq} missing (found {} for call {}): record deleted", r.seq, r.call_id));
            }
            if r.prev_hash != prev {
                problems.push(format!("seq {}: previous-hash link broken (a record before it was edited or deleted)", r.seq));
            }
            let h = link(&r.prev_hash, &r.body);
            if h != r.hash {
                problems.push(format!("seq {} (call {}): body does not match its hash: record edited", r.seq, r.call_id));
            }
            match serde_json::from_str::<Body>(&r.body) {
                Ok(b) => {
                    let rec = &b.record;
                    let (ps, wh) = match &rec.caller {
                        Caller::Pseudonym(p) => (Some(p.clone()), 0),
                        Caller::Withheld => (None, 1),
                    };
                    if rec.call_id != r.call_id
                        || i64::from(rec.flow.number()) != r.flow
                        || ps != r.pseudonym
                        || wh != r.withheld
                        || rec.started_at.timestamp_millis() != r.started_ms
                        || rec.ended_at.timestamp_millis() != r.ended_ms
                        || rec.day() != day
                    {
                        problems.push(format!("seq {} (call {}): indexed columns differ from the chained body: record edited", r.seq, r.call_id));
                    }
                    bodies.insert(r.call_id.clone(), b.transcript_sha256);
                }
                Err(e) => problems.push(format!("seq {}: body is not a record ({e})", r.seq)),
            }
            prev = r.hash.clone();
        }
        match head {
            Some((seq, hash)) if seq != rows.len() as i64 || hash != prev => {
                problems.push(format!("chain head says {seq} records, {} found: last record(s) deleted or edited", rows.len()));
            }
            Some(_) => {}
            None if !rows.is_empty() => problems.push("chain head missing".to_string()),
            None => {}
        }
        for (call_id, idx, text) in transcripts {
            let Some(text) = text else { continue };
            let digest = bodies.get(&call_id).and_then(|d| d.get(idx as usize));
            if digest != Some(&sha256_hex(text.as_bytes())) {
                problems.push(format!("call {call_id}: transcript {idx} edited"));
            }
        }
        Ok(VerifyReport { day, records: rows.len(), problems })
    }
}
