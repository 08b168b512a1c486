//! The life of an accounting day: provisional while calls come in, closed (final outcomes
//! stored with the rule used) on schedule or on demand, then purged per retention.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use serde::Serialize;

use crate::config::AccountingConfig;
use crate::record::{paris_day, CallRecord};
use crate::sc32::{Outcome, Sc32Rule};
use crate::store::Store;
use crate::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct CloseSummary {
    pub day: NaiveDate,
    pub calls: usize,
    pub productive: usize,
    /// Calls found without an end (process died mid-call), recorded as lost.
    pub recovered_lost: usize,
    /// Hash of the last record of the day's chain at close: keep it outside the database.
    pub chain_head: Option<String>,
}

/// Closes `day`: calls left open by a crash (no event for `open_call_timeout`) are recorded
/// as lost, then every call's final outcome is stored with `rule`. Closing again recomputes
/// (useful after a late record), still with the rule given. Fails with `DayBusy` while a
/// call of that day may still be running.
pub async fn close_day(store: &Store, rule: &Sc32Rule, day: NaiveDate, now: DateTime<Utc>, open_call_timeout: Duration) -> Result<CloseSummary> {
    let mut lost = Vec::new();
    let mut busy = 0;
    for events in store.open_calls(day).await? {
        let rec = match CallRecord::from_events(&events) {
            Ok(r) => r,
            Err(e) => {
                // Events without their Started (cut by a crash in between): nothing to count.
                tracing::warn!(error = %e, "dropping incomplete events of a crashed call");
                continue;
            }
        };
        if rec.day() > day {
            continue;
        }
        let last = events.iter().map(|e| e.at).max().unwrap_or(rec.started_at);
        if (now - last).to_std().unwrap_or_default() < open_call_timeout {
            busy += 1;
        } else {
            lost.push(rec);
        }
    }
    if busy > 0 {
        return Err(Error::DayBusy { day, open: busy });
    }
    if !lost.is_empty() {
        store.write_batch(&[], &lost).await?;
    }
    let records = store.records(day, day, false).await?;
    let outcomes: Vec<Outcome> = rule.evaluate_day(&records);
    store.store_closed_day(day, now.timestamp_millis(), rule, &outcomes).await?;
    let summary = CloseSummary {
        day,
        calls: records.len(),
        productive: outcomes.iter().filter(|o| o.productive).count(),
        recovered_lost: lost.len(),
        chain_head: store.chain_head(day).await?.map(|(_, h)| h),
    };
    tracing::info!(
        target: "ivr::accounting::close",
        day = %day,
        calls = summary.calls,
        productive = summary.productive,
        recovered_lost = summary.recovered_lost,
        chain_head = summary.chain_head.as_deref().unwrap_or("-"),
        "day closed"
    );
    Ok(summary)
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PurgeSummary {
    pub transcripts_deleted: u64,
    pub records_deleted: u64,
    pub keys_destroyed: usize,
    /// Procedure requests whose personal fields were erased.
    pub requests_purged: u64,
    /// Console audit rows past their 6 months.
    pub audit_deleted: u64,
}

/// Applies retention at `now`: transcripts older than `transcript_retention_days`, records
/// older than `record_retention_days` (if set), and pseudonym keys of days closed more than
/// `key_grace_s` ago. Logs one line with what it did.
pub async fn purge(store: &Store, cfg: &AccountingConfig, now: DateTime<Utc>) -> Result<PurgeSummary> {
    let today = paris_day(now);
    let mut s = PurgeSummary::default();
    let cut = today - chrono::Days::new(u64::from(cfg.transcript_retention_days));
    s.transcripts_deleted = store.delete_transcripts_before(cut).await?;
    if let Some(days) = cfg.record_retention_days {
        s.records_deleted = store.delete_records_before(today - chrono::Days::new(u64::from(days))).await?;
    }
    s.requests_purged = store.purge_requests(cfg.requests, now).await?;
    s.audit_deleted = store.purge_audit(now).await?;
    let grace_ms = i64::try_from(cfg.key_grace_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    for day in store.days_closed_before(now.timestamp_millis().saturating_sub(grace_ms)).await? {
        if store.destroy_day_key(day, now.timestamp_millis()).await? {
            s.keys_destroyed += 1;
        }
    }
    tracing::info!(
        target: "ivr::accounting::purge",
        transcripts_deleted = s.transcripts_deleted,
        records_deleted = s.records_deleted,
        keys_destroyed = s.keys_destroyed,
        requests_purged = s.requests_purged,
        audit_deleted = s.audit_deleted,
        transcript_retention_days = cfg.transcript_retention_days,
        "retention purge done"
    );
    Ok(s)
}

/// The next instant, at or after `now`, that is `close_at` in Europe/Paris.
pub fn next_close(now: DateTime<Utc>, close_at: NaiveTime) -> DateTime<Utc> {
    let mut d = paris_day(now);
    loop {
        // In the spring-forward gap the local time does not exist: use one hour later.
        let local = Paris
            .from_local_datetime(&d.and_time(close_at))
            .earliest()
            .or_else(|| Paris.from_local_datetime(&(d.and_time(close_at) + chrono::Duration::hours(1))).earliest());
        if let Some(t) = local.map(|t| t.with_timezone(&Utc)) {
            if t >= now {
                return t;
            }
        }
        d = d.succ_opt().unwrap_or(d);
    }
}

/// What the scheduled job does: close every past day not closed yet, then purge.
pub async fn close_pending_and_purge(store: &Store, cfg: &AccountingConfig, now: DateTime<Utc>) -> Result<Vec<CloseSummary>> {
    let mut closed = Vec::new();
    let timeout = Duration::from_secs(cfg.open_call_timeout_s);
    for day in store.unclosed_days_before(paris_day(now)).await? {
        match close_day(store, &cfg.sc32, day, now, timeout).await {
            Ok(s) => closed.push(s),
            // Retried at the next run; the other days still close.
            Err(e @ Error::DayBusy { .. }) => tracing::warn!(error = %e, "day close postponed"),
            Err(e) => return Err(e),
        }
    }
    purge(store, cfg, now).await?;
    Ok(closed)
}

/// The server's daily job: sleeps until `close_at` (Paris), runs `close_pending_and_purge`,
/// and repeats until `shutdown` resolves. Also runs once at start, to catch up after downtime.
pub async fn run_daily(store: Store, cfg: AccountingConfig, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut now = Utc::now();
    loop {
        if let Err(e) = close_pending_and_purge(&store, &cfg, now).await {
            tracing::error!(error = %e, "daily accounting job failed");
        }
        let next = next_close(Utc::now() + chrono::Duration::seconds(1), cfg.close_at);
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut shutdown => return,
        }
        now = Utc::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_close_is_paris_time_across_dst() {
        let at3 = NaiveTime::from_hms_opt(3, 0, 0).unwrap();
        // Winter: 03:00 Paris = 02:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap();
        assert_eq!(next_close(now, at3), Utc.with_ymd_and_hms(2026, 1, 11, 2, 0, 0).unwrap());
        // Summer: 03:00 Paris = 01:00 UTC, same day if still ahead.
        let now = Utc.with_ymd_and_hms(2026, 7, 10, 0, 30, 0).unwrap();
        assert_eq!(next_close(now, at3), Utc.with_ymd_and_hms(2026, 7, 10, 1, 0, 0).unwrap());
        // 2026-03-29 02:30 Paris does not exist: 03:30 local (01:30 UTC) instead.
        let t = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 3, 28, 23, 30, 0).unwrap();
        assert_eq!(next_close(now, t), Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap());
    }
}
