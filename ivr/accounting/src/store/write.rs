//! Batch writes: one transaction per batch of events and ended calls. The commit is the
//! durability point (SQLite WAL with synchronous=FULL, PostgreSQL synchronous_commit=on).

use std::collections::HashSet;

use sqlx::{QueryBuilder, Row};

use super::chain::{genesis, link, Body};
use super::{day_text, on_pool, Store};
use crate::event::{Caller, Event};
use crate::record::{paris_day, CallRecord};
use crate::Result;

/// Rows per multi-row INSERT (kept well under SQLite's 32766 bound parameters).
const EVENT_ROWS_PER_INSERT: usize = 500;

struct EventRow {
    call_id: String,
    day: String,
    at_ms: i64,
    body: String,
}

impl Store {
    /// Writes a batch in one transaction: the events of calls in progress, then each ended
    /// call's record appended to its day's hash chain; a committed record drops its call's
    /// events (the record now holds them all). Recording a call twice is a no-op.
    pub async fn write_batch(&self, events: &[Event], records: &[CallRecord]) -> Result<()> {
        let mut rows = Vec::with_capacity(events.len());
        let finished: HashSet<&str> = records.iter().map(|r| r.call_id.as_str()).collect();
        for e in events {
            // Events of a call that ends in this very batch need not be stored at all.
            if finished.contains(e.call_id.as_str()) {
                continue;
            }
            rows.push(EventRow { call_id: e.call_id.clone(), day: day_text(paris_day(e.at)), at_ms: e.at.timestamp_millis(), body: serde_json::to_string(e)? });
        }
        let mut prepared = Vec::with_capacity(records.len());
        for r in records {
            let (body, texts) = Body::from_record(r)?;
            prepared.push((r, body, texts));
        }
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            for chunk in rows.chunks(EVENT_ROWS_PER_INSERT) {
                let mut qb = QueryBuilder::new("INSERT INTO call_events (call_id, day, at_ms, body) ");
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(&r.call_id).push_bind(&r.day).push_bind(r.at_ms).push_bind(&r.body);
                });
                qb.build().execute(&mut *tx).await?;
            }
            for (rec, body, texts) in &prepared {
                let exists = sqlx::query("SELECT 1 FROM call_records WHERE call_id = $1")
                    .bind(&rec.call_id).fetch_optional(&mut *tx).await?.is_some();
                if !exists {
                    let day = rec.day();
                    let d = day_text(day);
                    sqlx::query("INSERT INTO chain_heads (day, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (day) DO NOTHING")
                        .bind(&d).bind(genesis(day)).execute(&mut *tx).await?;
                    // The UPDATE takes the head's row lock until commit: concurrent writers
                    // (several instances on PostgreSQL) extend the chain one at a time.
                    let head = sqlx::query("UPDATE chain_heads SET seq = seq + 1 WHERE day = $1 RETURNING seq, hash")
                        .bind(&d).fetch_one(&mut *tx).await?;
                    let seq: i64 = head.try_get("seq")?;
                    let prev: String = head.try_get("hash")?;
                    let hash = link(&prev, body);
                    sqlx::query("UPDATE chain_heads SET hash = $1 WHERE day = $2").bind(&hash).bind(&d).execute(&mut *tx).await?;
                    let (pseudonym, withheld) = match &rec.caller {
                        Caller::Pseudonym(p) => (Some(p.as_str()), 0i64),
                        Caller::Withheld => (None, 1i64),
                    };
                    sqlx::query("INSERT INTO call_records (call_id, day, seq, flow, pseudonym, withheld, started_ms, ended_ms, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                        .bind(&rec.call_id).bind(&d).bind(seq).bind(i64::from(rec.flow.number()))
                        .bind(pseudonym).bind(withheld)
                        .bind(rec.started_at.timestamp_millis()).bind(rec.ended_at.timestamp_millis())
                        .bind(body).bind(&prev).bind(&hash)
                        .execute(&mut *tx).await?;
                    for (i, t) in texts.iter().enumerate() {
                        sqlx::query("INSERT INTO transcripts (call_id, idx, text) VALUES ($1, $2, $3)")
                            .bind(&rec.call_id).bind(i as i64).bind(t).execute(&mut *tx).await?;
                    }
                }
                sqlx::query("DELETE FROM call_events WHERE call_id = $1").bind(&rec.call_id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
