//! Tamper evidence (verify), retention purge and the life of the pseudonym keys, on SQLite
//! and PostgreSQL. Tampering goes straight to the tables, as someone with database access would.

mod common;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use ivr_accounting::{days, parse_caller, AccountingConfig, CallRecord, Caller, EndedBy, Event, EventKind, Flow, Playback, Pseudonymizer, Sc32Rule, Store};
use sqlx::any::AnyPoolOptions;

fn paris(y: i32, mo: u32, d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Paris.with_ymd_and_hms(y, mo, d, h, m, 0).single().expect("valid time").with_timezone(&Utc)
}

fn call(id: &str, start: DateTime<Utc>, caller: Caller) -> CallRecord {
    let s = chrono::Duration::seconds(1);
    let ev = vec![
        Event::new(id, start, EventKind::Started { flow: Flow::Choix2, caller }),
        Event::new(id, start + s, EventKind::Answered),
        Event::new(id, start + s * 5, EventKind::Question { transcript: format!("secret words of {id}"), intent: "rsa".into(), score: 0.8 }),
        Event::new(id, start + s * 25, EventKind::Played { what: Playback::Answer("rsa".into()), total_ms: 20_000, played_ms: 20_000 }),
        Event::new(id, start + s * 30, EventKind::Ended { by: EndedBy::Bot }),
    ];
    CallRecord::from_events(&ev).expect("fold")
}

/// Raw SQL on the same database, for the tampering.
async fn raw(url: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new().max_connections(1).connect(url).await.expect("raw connect");
    sqlx::query(sql).execute(&pool).await.expect("raw sql");
    pool.close().await;
}

async fn problems(store: &Store, day: NaiveDate) -> Vec<String> {
    store.verify_day(day).await.expect("verify").problems
}

async fn tampering(url: &str) {
    let store = Store::connect(url).await.expect("connect");
    let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let recs: Vec<CallRecord> = (0..5).map(|i| call(&format!("t{i}"), paris(2026, 6, 1, 9, i * 5), Caller::Withheld)).collect();
    store.write_batch(&[], &recs[..2]).await.expect("write");
    store.write_batch(&[], &recs[2..]).await.expect("write");
    // Writing a record twice is a no-op, not a second link.
    store.write_batch(&[], &recs[..1]).await.expect("rewrite");
    let v = store.verify_day(day).await.expect("verify");
    assert!(v.ok() && v.records == 5, "{v:?}");

    raw(url, "UPDATE call_records SET body = REPLACE(body, '\"played_ms\":20000', '\"played_ms\":19000') WHERE call_id = 't1'").await;
    let p = problems(&store, day).await;
    assert!(p.iter().any(|m| m.contains("seq 2") && m.contains("edited")), "{p:?}");
    raw(url, "UPDATE call_records SET body = REPLACE(body, '\"played_ms\":19000', '\"played_ms\":20000') WHERE call_id = 't1'").await;
    assert!(problems(&store, day).await.is_empty());

    raw(url, "UPDATE call_records SET flow = 3 WHERE call_id = 't2'").await;
    assert!(problems(&store, day).await.iter().any(|m| m.contains("indexed columns")));
    raw(url, "UPDATE call_records SET flow = 2 WHERE call_id = 't2'").await;

    raw(url, "UPDATE transcripts SET text = 'something else' WHERE call_id = 't3'").await;
    assert!(problems(&store, day).await.iter().any(|m| m.contains("transcript")));
    raw(url, "UPDATE transcripts SET text = 'secret words of t3' WHERE call_id = 't3'").await;
    assert!(problems(&store, day).await.is_empty());

    raw(url, "DELETE FROM call_records WHERE call_id = 't4'").await;
    assert!(problems(&store, day).await.iter().any(|m| m.contains("deleted")), "deleting the last record is seen through the head");
    raw(url, "DELETE FROM call_records WHERE call_id = 't2'").await;
    let p = problems(&store, day).await;
    assert!(p.iter().any(|m| m.contains("seq 3 missing")), "{p:?}");
    store.close().await;
}

async fn purge_and_keys(url: &str) {
    let store = Store::connect(url).await.expect("connect");
    let cfg = AccountingConfig { key_grace_s: 3600, transcript_retention_days: 30, record_retention_days: Some(365), ..AccountingConfig::default() };
    let a = Pseudonymizer::new(store.clone());
    let b = Pseudonymizer::new(store.clone()); // a second instance on the same database
    let num = parse_caller("sip:+33612345678@trunk", None);
    let d1 = paris(2026, 1, 5, 10, 0);
    let d1_later = paris(2026, 1, 5, 16, 0);
    let d2 = paris(2026, 1, 6, 10, 0);
    let (p_a, p_b, p_a_later, p_next) = (
        a.caller(&num, d1).await.unwrap(),
        b.caller(&num, d1_later).await.unwrap(),
        a.caller(&num, d1_later).await.unwrap(),
        a.caller(&num, d2).await.unwrap(),
    );
    assert_eq!(p_a, p_b, "instances share the day key");
    assert_eq!(p_a, p_a_later);
    assert_ne!(p_a, p_next, "the key rotates with the Paris day");
    let Caller::Pseudonym(ps) = &p_a else { panic!("number expected") };
    assert!(!ps.contains("612345678"));

    let old = call("old", paris(2026, 1, 5, 11, 0), p_a.clone());
    let recent = call("recent", paris(2026, 2, 10, 11, 0), Caller::Withheld);
    store.write_batch(&[], &[old.clone(), recent.clone()]).await.expect("write");
    let jan5 = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();

    // Not closed yet: the purge keeps the key even long after.
    let s = days::purge(&store, &cfg, paris(2026, 1, 7, 4, 0)).await.expect("purge");
    assert_eq!(s.keys_destroyed, 0);
    let closed_at = paris(2026, 1, 6, 3, 0);
    days::close_day(&store, &Sc32Rule::default(), jan5, closed_at, Duration::from_secs(3600)).await.expect("close");
    // Within the grace period: kept.
    let s = days::purge(&store, &cfg, closed_at + chrono::Duration::minutes(30)).await.expect("purge");
    assert_eq!(s.keys_destroyed, 0);
    assert!(Pseudonymizer::new(store.clone()).caller(&num, d1).await.is_ok());
    // After the grace: destroyed, for every instance, and never recreated.
    let s = days::purge(&store, &cfg, closed_at + chrono::Duration::minutes(61)).await.expect("purge");
    assert_eq!(s.keys_destroyed, 1);
    a.forget(jan5);
    assert!(matches!(a.caller(&num, d1).await, Err(ivr_accounting::Error::KeyDestroyed(d)) if d == jan5));
    assert!(matches!(Pseudonymizer::new(store.clone()).caller(&num, d1).await, Err(ivr_accounting::Error::KeyDestroyed(_))));
    assert!(Pseudonymizer::new(store.clone()).caller(&num, d2).await.is_ok(), "the next day's key is untouched");
    // Withheld callers never need a key.
    assert_eq!(a.caller(&parse_caller("sip:anonymous@x", None), d1).await.unwrap(), Caller::Withheld);

    // Transcripts: 31 days after Jan 5 the old one goes, the recent one stays; the chain still verifies.
    let s = days::purge(&store, &cfg, paris(2026, 2, 12, 4, 0)).await.expect("purge");
    assert_eq!(s.transcripts_deleted, 1);
    let recs = store.records(jan5, NaiveDate::from_ymd_opt(2026, 2, 28).unwrap(), true).await.expect("records");
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].questions[0].transcript, None);
    assert_eq!(recs[1].questions[0].transcript.as_deref(), Some("secret words of recent"));
    assert!(store.verify_day(jan5).await.unwrap().ok(), "purging transcripts does not break the chain");
    assert_eq!(recs[0].questions[0].intent, "rsa", "the rest of the record is kept");

    // Records: after a year, whole days go.
    let s = days::purge(&store, &cfg, paris(2027, 1, 6, 4, 0)).await.expect("purge");
    assert_eq!(s.records_deleted, 1);
    let left = store.records(jan5, NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(), false).await.expect("records");
    assert_eq!(left.iter().map(|r| r.call_id.as_str()).collect::<Vec<_>>(), ["recent"]);
    store.close().await;
}

#[tokio::test]
async fn verify_detects_tampering_sqlite() {
    tampering(&common::sqlite().url).await;
}

#[tokio::test]
async fn verify_detects_tampering_postgres() {
    let Some(db) = common::postgres("tamper").await else {
        return;
    };
    tampering(&db.url).await;
}

#[tokio::test]
async fn purge_and_day_keys_sqlite() {
    purge_and_keys(&common::sqlite().url).await;
}

#[tokio::test]
async fn purge_and_day_keys_postgres() {
    let Some(db) = common::postgres("purge").await else {
        return;
    };
    purge_and_keys(&db.url).await;
}

/// The server's scheduled job closes every past day left open (catch-up after downtime),
/// postpones a day whose call may still be running, and leaves today alone.
async fn scheduled_close(url: &str) {
    let store = Store::connect(url).await.expect("connect");
    let cfg = AccountingConfig::default();
    let d1 = call("d1", paris(2026, 3, 2, 10, 0), Caller::Withheld);
    let d2 = call("d2", paris(2026, 3, 3, 10, 0), Caller::Withheld);
    let today = call("d3", paris(2026, 3, 4, 9, 0), Caller::Withheld);
    store.write_batch(&[], &[d1, d2, today]).await.expect("write");
    // A call of Mar 3 still "running" at 23:30 (its last event is recent at 00:10).
    let running = Event::new("open", paris(2026, 3, 3, 23, 30), EventKind::Started { flow: Flow::Choix3, caller: Caller::Withheld });
    store.write_batch(&[running], &[]).await.expect("write");
    let now = paris(2026, 3, 4, 0, 10);
    let closed = days::close_pending_and_purge(&store, &cfg, now).await.expect("job");
    let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    assert_eq!(closed.iter().map(|c| c.day).collect::<Vec<_>>(), [day(2)]);
    assert!(!store.is_closed(day(3)).await.unwrap());
    // Two hours later the open call is judged lost and Mar 3 closes; Mar 4 (today) stays open.
    let closed = days::close_pending_and_purge(&store, &cfg, paris(2026, 3, 4, 3, 0)).await.expect("job");
    assert_eq!(closed.len(), 1);
    assert_eq!((closed[0].day, closed[0].calls, closed[0].recovered_lost), (day(3), 2, 1));
    assert!(!store.is_closed(day(4)).await.unwrap());
    assert!(store.verify_day(day(3)).await.unwrap().ok());
    store.close().await;
}

#[tokio::test]
async fn scheduled_close_sqlite() {
    scheduled_close(&common::sqlite().url).await;
}

#[tokio::test]
async fn scheduled_close_postgres() {
    let Some(db) = common::postgres("sched").await else {
        return;
    };
    scheduled_close(&db.url).await;
}
