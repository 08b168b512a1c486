//! What supervisors see and set, shared by every instance on one database (DESIGN §9):
//! each `ivr serve` writes a heartbeat row (its calls in progress, recognition load), the
//! runtime switches (saturation, crisis, closed) are one row, and exceptional closures are
//! date ranges. Nothing here holds caller data: a call in progress is a short reference,
//! its flow, state and topic.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::record::{paris_day, CallRecord};
use crate::report::PeriodFigures;
use crate::sc32::Sc32Rule;
use crate::store::{day_text, on_pool, parse_day, Store};
use crate::{Error, Result};

/// One call in progress as an instance publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCall {
    /// A short reference derived from the Call-ID (not the caller's number).
    pub reference: String,
    /// 2 or 3 (choix 2, choix 3).
    pub flow: u8,
    /// greeting, listening, recognizing, answering, transferring, procedure, closed.
    pub state: String,
    /// The matcher's topic of the last question, if any.
    pub topic: Option<String>,
    pub started: DateTime<Utc>,
}

/// One instance's heartbeat row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceBeat {
    pub name: String,
    pub started: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub sip_up: bool,
    pub calls: Vec<LiveCall>,
    /// Utterances waiting for a recognition worker.
    pub asr_queue: u32,
    /// Recognition latency (queue + run) over the recent utterances, when there were any.
    pub asr_p50_ms: Option<u64>,
    pub asr_p95_ms: Option<u64>,
    /// The content version the instance answers with, when it reports one.
    pub content: Option<String>,
}

/// The runtime switches in force, with who set them last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SwitchFlags {
    pub saturation: bool,
    pub crisis: bool,
    pub closed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SwitchState {
    pub flags: SwitchFlags,
    /// None while nobody ever set them (all off).
    pub set_by: Option<String>,
    pub set_at: Option<DateTime<Utc>>,
}

/// An exceptional closure: every Paris day of `first..=last` is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closure {
    pub id: i64,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub label: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl Closure {
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.first <= day && day <= self.last
    }
}

/// Longest label kept for a closure (it is shown in tables, not a document).
pub const CLOSURE_LABEL_MAX: usize = 200;

fn at_ms(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| Error::Corrupt(format!("bad time {ms}")))
}

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|v| u64::try_from(v).ok())
}

macro_rules! beat_from_row {
    ($r:expr) => {{
        let r = $r;
        let calls: String = r.try_get("calls")?;
        let sip_up: i64 = r.try_get("sip_up")?;
        let queue: i64 = r.try_get("asr_queue")?;
        InstanceBeat {
            name: r.try_get("name")?,
            started: at_ms(r.try_get("started_ms")?)?,
            updated: at_ms(r.try_get("updated_ms")?)?,
            sip_up: sip_up != 0,
            calls: serde_json::from_str(&calls)?,
            asr_queue: u32::try_from(queue).unwrap_or(0),
            asr_p50_ms: opt_u64(r.try_get("asr_p50_ms")?),
            asr_p95_ms: opt_u64(r.try_get("asr_p95_ms")?),
            content: r.try_get("content")?,
        }
    }};
}

impl Store {
    /// Writes (inserts or replaces) an instance's heartbeat row.
    pub async fn heartbeat(&self, beat: &InstanceBeat) -> Result<()> {
        let calls = serde_json::to_string(&beat.calls)?;
        let p50 = beat.asr_p50_ms.and_then(|v| i64::try_from(v).ok());
        let p95 = beat.asr_p95_ms.and_then(|v| i64::try_from(v).ok());
        on_pool!(&self.pool, p => {
            sqlx::query(
                "INSERT INTO instances (name, started_ms, updated_ms, sip_up, calls, asr_queue, asr_p50_ms, asr_p95_ms, content) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (name) DO UPDATE SET started_ms = excluded.started_ms, updated_ms = excluded.updated_ms, sip_up = excluded.sip_up, \
                 calls = excluded.calls, asr_queue = excluded.asr_queue, asr_p50_ms = excluded.asr_p50_ms, asr_p95_ms = excluded.asr_p95_ms, content = excluded.content",
            )
            .bind(&beat.name).bind(beat.started.timestamp_millis()).bind(beat.updated.timestamp_millis()).bind(i64::from(beat.sip_up))
            .bind(&calls).bind(i64::from(beat.asr_queue)).bind(p50).bind(p95).bind(&beat.content)
            .execute(p).await?;
        });
        Ok(())
    }

    /// Instances whose last heartbeat is at or after `since`, by name.
    pub async fn instances_since(&self, since: DateTime<Utc>) -> Result<Vec<InstanceBeat>> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query("SELECT name, started_ms, updated_ms, sip_up, calls, asr_queue, asr_p50_ms, asr_p95_ms, content FROM instances WHERE updated_ms >= $1 ORDER BY name")
                .bind(since.timestamp_millis()).fetch_all(p).await?;
            rows.iter().map(|r| Ok(beat_from_row!(r))).collect()
        })
    }

    /// The switches in force (all off when never set).
    pub async fn switch_state(&self) -> Result<SwitchState> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query("SELECT saturation, crisis, closed, set_by, set_ms FROM switches WHERE id = 1").fetch_optional(p).await?;
            match row {
                None => Ok(SwitchState::default()),
                Some(r) => {
                    let (s, c, cl): (i64, i64, i64) = (r.try_get("saturation")?, r.try_get("crisis")?, r.try_get("closed")?);
                    Ok(SwitchState {
                        flags: SwitchFlags { saturation: s != 0, crisis: c != 0, closed: cl != 0 },
                        set_by: Some(r.try_get("set_by")?),
                        set_at: Some(at_ms(r.try_get("set_ms")?)?),
                    })
                }
            }
        })
    }

    /// Sets the three switches at once (every instance reads them within a second or so).
    pub async fn set_switches(&self, flags: SwitchFlags, by: &str, at: DateTime<Utc>) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query(
                "INSERT INTO switches (id, saturation, crisis, closed, set_by, set_ms) VALUES (1, $1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET saturation = excluded.saturation, crisis = excluded.crisis, closed = excluded.closed, \
                 set_by = excluded.set_by, set_ms = excluded.set_ms",
            )
            .bind(i64::from(flags.saturation)).bind(i64::from(flags.crisis)).bind(i64::from(flags.closed)).bind(by).bind(at.timestamp_millis())
            .execute(p).await?;
        });
        Ok(())
    }

    /// Closures that end on or after `from` (None: all), by first day.
    pub async fn closures(&self, from: Option<NaiveDate>) -> Result<Vec<Closure>> {
        let from = from.map(day_text).unwrap_or_default();
        on_pool!(&self.pool, p => {
            let rows = sqlx::query("SELECT id, first_day, last_day, label, created_by, created_ms FROM closures WHERE last_day >= $1 ORDER BY first_day, id")
                .bind(&from).fetch_all(p).await?;
            rows.iter().map(|r| {
                let first: String = r.try_get("first_day")?;
                let last: String = r.try_get("last_day")?;
                Ok(Closure {
                    id: r.try_get("id")?,
                    first: parse_day(&first)?,
                    last: parse_day(&last)?,
                    label: r.try_get("label")?,
                    created_by: r.try_get("created_by")?,
                    created_at: at_ms(r.try_get("created_ms")?)?,
                })
            }).collect()
        })
    }

    /// Adds a closure of `first..=last` (swapped if given backwards); returns its id.
    pub async fn add_closure(&self, first: NaiveDate, last: NaiveDate, label: &str, by: &str, at: DateTime<Utc>) -> Result<i64> {
        let (first, last) = if last < first { (last, first) } else { (first, last) };
        let label: String = label.trim().chars().take(CLOSURE_LABEL_MAX).collect();
        let id: i64 = on_pool!(&self.pool, p => {
            sqlx::query("INSERT INTO closures (first_day, last_day, label, created_by, created_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(day_text(first)).bind(day_text(last)).bind(&label).bind(by).bind(at.timestamp_millis())
                .fetch_one(p).await?.try_get("id")?
        });
        Ok(id)
    }

    /// Removes a closure; returns it, or None when there was none with this id.
    pub async fn remove_closure(&self, id: i64) -> Result<Option<Closure>> {
        let Some(c) = self.closures(None).await?.into_iter().find(|c| c.id == id) else {
            return Ok(None);
        };
        on_pool!(&self.pool, p => {
            sqlx::query("DELETE FROM closures WHERE id = $1").bind(id).execute(p).await?;
        });
        Ok(Some(c))
    }
}

/// The figures of the calls that started in the hour before `now` (answered by the bot,
/// transferred, abandoned...), from the stored call records, by the report's own counting.
/// Reiteration is judged on the calls' whole days, as in the report.
pub async fn last_hour(store: &Store, rule: &Sc32Rule, now: DateTime<Utc>) -> Result<PeriodFigures> {
    let since = now - Duration::hours(1);
    let records = store.records(paris_day(since), paris_day(now), false).await?;
    let mut by_day: std::collections::BTreeMap<NaiveDate, Vec<CallRecord>> = std::collections::BTreeMap::new();
    for r in records {
        by_day.entry(r.day()).or_default().push(r);
    }
    let mut rows = Vec::new();
    for recs in by_day.into_values() {
        let outcomes = rule.evaluate_day(&recs);
        rows.extend(recs.into_iter().zip(outcomes).filter(|(r, _)| r.started_at >= since && r.started_at <= now).map(|(r, o)| (r, o, false)));
    }
    let refs: Vec<_> = rows.iter().collect();
    Ok(crate::report::figures("last-hour", &refs, rule))
}
