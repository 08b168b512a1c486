//! Reads for reports, exports, day closing and purges.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::Row;

use super::chain::Body;
use super::{day_text, on_pool, parse_day, Store};
use crate::event::Event;
use crate::record::CallRecord;
use crate::sc32::{Outcome, Sc32Rule};
use crate::{Error, Result};

/// (call_id, question index, transcript text if not purged)
type TranscriptRow = (String, i64, Option<String>);
/// (day, call_id, productive, reiterated, misses JSON, interaction_ms)
type OutcomeRow = (String, String, i64, i64, String, i64);

/// A closed day: its final outcomes and the rule that produced them.
#[derive(Debug, Clone)]
pub struct ClosedDay {
    pub day: NaiveDate,
    pub rule: Sc32Rule,
    pub outcomes: Vec<Outcome>,
}

impl Store {
    /// Records of the days `from..=to` (Paris days of call start), ordered by day and chain
    /// sequence. Transcripts are joined back when asked and not yet purged.
    pub async fn records(&self, from: NaiveDate, to: NaiveDate, with_transcripts: bool) -> Result<Vec<CallRecord>> {
        let (f, t) = (day_text(from), day_text(to));
        let (bodies, texts): (Vec<String>, Vec<TranscriptRow>) = on_pool!(&self.pool, p => {
            let b = sqlx::query("SELECT body FROM call_records WHERE day >= $1 AND day <= $2 ORDER BY day, seq")
                .bind(&f).bind(&t).fetch_all(p).await?
                .iter().map(|r| r.try_get::<String, _>("body")).collect::<std::result::Result<Vec<_>, _>>()?;
            let tx = if with_transcripts {
                sqlx::query_as("SELECT t.call_id, t.idx, t.text FROM transcripts t JOIN call_records r ON r.call_id = t.call_id WHERE r.day >= $1 AND r.day <= $2")
                    .bind(&f).bind(&t).fetch_all(p).await?
            } else { Vec::new() };
            (b, tx)
        });
        let mut texts_by: HashMap<(String, i64), String> = HashMap::new();
        for (c, i, t) in texts {
            if let Some(t) = t {
                texts_by.insert((c, i), t);
            }
        }
        bodies
            .iter()
            .map(|b| {
                let mut rec = serde_json::from_str::<Body>(b)?.record;
                for (i, q) in rec.questions.iter_mut().enumerate() {
                    q.transcript = texts_by.remove(&(rec.call_id.clone(), i as i64));
                }
                Ok(rec)
            })
            .collect()
    }

    /// Events of calls that have no record yet, grouped per call, for calls whose first
    /// stored event is on or before `day`.
    pub(crate) async fn open_calls(&self, up_to: NaiveDate) -> Result<Vec<Vec<Event>>> {
        let d = day_text(up_to);
        let bodies: Vec<(String, String)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT call_id, body FROM call_events WHERE call_id IN (SELECT call_id FROM call_events WHERE day <= $1) ORDER BY id")
                .bind(&d).fetch_all(p).await?
        });
        let mut by_call: HashMap<String, Vec<Event>> = HashMap::new();
        let mut order = Vec::new();
        for (c, b) in bodies {
            let e: Event = serde_json::from_str(&b)?;
            if !by_call.contains_key(&c) {
                order.push(c.clone());
            }
            by_call.entry(c).or_default().push(e);
        }
        Ok(order.into_iter().filter_map(|c| by_call.remove(&c)).collect())
    }

    pub async fn closed_days(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<ClosedDay>> {
        let (f, t) = (day_text(from), day_text(to));
        let (days, outs): (Vec<(String, String)>, Vec<OutcomeRow>) = on_pool!(&self.pool, p => {
            let days = sqlx::query_as("SELECT day, rule FROM days WHERE day >= $1 AND day <= $2").bind(&f).bind(&t).fetch_all(p).await?;
            let outs = sqlx::query_as("SELECT day, call_id, productive, reiterated, misses, interaction_ms FROM call_outcomes WHERE day >= $1 AND day <= $2")
                .bind(&f).bind(&t).fetch_all(p).await?;
            (days, outs)
        });
        let mut closed: Vec<ClosedDay> = days
            .iter()
            .map(|(d, rule)| Ok(ClosedDay { day: parse_day(d)?, rule: serde_json::from_str(rule)?, outcomes: Vec::new() }))
            .collect::<Result<_>>()?;
        for (d, call_id, productive, reiterated, misses, ms) in outs {
            let day = parse_day(&d)?;
            let Some(c) = closed.iter_mut().find(|c| c.day == day) else {
                return Err(Error::Corrupt(format!("outcome of {call_id} for a day not closed")));
            };
            c.outcomes.push(Outcome {
                call_id,
                productive: productive != 0,
                reiterated: reiterated != 0,
                misses: serde_json::from_str(&misses)?,
                interaction_ms: ms.max(0) as u64,
            });
        }
        Ok(closed)
    }

    /// Stores a day's final outcomes and marks it closed, atomically.
    pub(crate) async fn store_closed_day(&self, day: NaiveDate, closed_ms: i64, rule: &Sc32Rule, outcomes: &[Outcome]) -> Result<()> {
        let d = day_text(day);
        let rule = serde_json::to_string(rule)?;
        let mut rows = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            rows.push((o, serde_json::to_string(&o.misses)?));
        }
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM call_outcomes WHERE day = $1").bind(&d).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM days WHERE day = $1").bind(&d).execute(&mut *tx).await?;
            for (o, misses) in &rows {
                sqlx::query("INSERT INTO call_outcomes (call_id, day, productive, reiterated, misses, interaction_ms) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&o.call_id).bind(&d).bind(i64::from(o.productive)).bind(i64::from(o.reiterated))
                    .bind(misses).bind(o.interaction_ms as i64).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO days (day, closed_ms, rule) VALUES ($1, $2, $3)").bind(&d).bind(closed_ms).bind(&rule).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn is_closed(&self, day: NaiveDate) -> Result<bool> {
        let d = day_text(day);
        let r: Option<(String,)> = on_pool!(&self.pool, p => sqlx::query_as("SELECT day FROM days WHERE day = $1").bind(&d).fetch_optional(p).await?);
        Ok(r.is_some())
    }

    /// Deletes question transcripts of calls of days before `before`. Returns how many.
    pub(crate) async fn delete_transcripts_before(&self, before: NaiveDate) -> Result<u64> {
        let d = day_text(before);
        let n = on_pool!(&self.pool, p => sqlx::query("DELETE FROM transcripts WHERE call_id IN (SELECT call_id FROM call_records WHERE day < $1)")
            .bind(&d).execute(p).await?.rows_affected());
        Ok(n)
    }

    /// Deletes whole days (records, chain heads, outcomes) before `before`. Returns records deleted.
    pub(crate) async fn delete_records_before(&self, before: NaiveDate) -> Result<u64> {
        let d = day_text(before);
        let n = on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM transcripts WHERE call_id IN (SELECT call_id FROM call_records WHERE day < $1)").bind(&d).execute(&mut *tx).await?;
            let n = sqlx::query("DELETE FROM call_records WHERE day < $1").bind(&d).execute(&mut *tx).await?.rows_affected();
            sqlx::query("DELETE FROM chain_heads WHERE day < $1").bind(&d).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM call_outcomes WHERE day < $1").bind(&d).execute(&mut *tx).await?;
            tx.commit().await?;
            n
        });
        Ok(n)
    }

    /// Days closed no later than `closed_before_ms`: their pseudonym keys may be destroyed.
    pub(crate) async fn days_closed_before(&self, closed_before_ms: i64) -> Result<Vec<NaiveDate>> {
        let rows: Vec<(String,)> =
            on_pool!(&self.pool, p => sqlx::query_as("SELECT day FROM days WHERE closed_ms <= $1").bind(closed_before_ms).fetch_all(p).await?);
        rows.iter().map(|(d,)| parse_day(d)).collect()
    }
}

impl Store {
    /// Days before `before` with records or leftover events that are not closed yet.
    pub(crate) async fn unclosed_days_before(&self, before: NaiveDate) -> Result<Vec<NaiveDate>> {
        let d = day_text(before);
        let rows: Vec<(String,)> = on_pool!(&self.pool, p => sqlx::query_as(
            "SELECT day FROM call_records WHERE day < $1 AND day NOT IN (SELECT day FROM days) \
             UNION SELECT day FROM call_events WHERE day < $1 AND day NOT IN (SELECT day FROM days) ORDER BY day")
            .bind(&d).fetch_all(p).await?);
        rows.iter().map(|(d,)| parse_day(d)).collect()
    }
}
