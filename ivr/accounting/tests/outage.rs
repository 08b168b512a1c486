//! A PostgreSQL outage loses nothing: while the database is stopped the recorder spools
//! batches locally (and acknowledges them from there), replays them in order when it is
//! back, and the day's hash chain holds every call, in the order they ended.

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use ivr_accounting::{paris_day, BatchPolicy, CallRecord, Caller, EndedBy, Event, EventKind, Flow, NewRequest, Recorder, RequestFilter, RequestKind, Store};

fn call_events(id: &str, start: DateTime<Utc>) -> Vec<Event> {
    let s = chrono::Duration::seconds(1);
    vec![
        Event::new(id, start, EventKind::Started { flow: Flow::Choix3, caller: Caller::Withheld }),
        Event::new(id, start + s, EventKind::Answered),
        Event::new(id, start + s * 20, EventKind::Ended { by: EndedBy::Caller }),
    ]
}

/// One call: its events, then its record; waits until the record is durable.
async fn one_call(rec: &Recorder, i: i64, day_start: DateTime<Utc>) {
    let id = format!("out{i:02}");
    let events = call_events(&id, day_start + chrono::Duration::minutes(i));
    for e in &events {
        rec.record(e.clone());
    }
    let committed = rec.finish_call(CallRecord::from_events(&events).expect("fold"));
    tokio::time::timeout(Duration::from_secs(20), committed)
        .await
        .unwrap_or_else(|_| panic!("{id}: record not acknowledged within 20 s (database down: the spool should take it)"))
        .expect("writer alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_loses_no_record_and_keeps_the_chain() {
    let Some(pg) = common::OwnPostgres::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool.jsonl");
    let store = Store::connect(&pg.url()).await.expect("connect");
    let (rec, writer) = Recorder::start_spooled(store.clone(), BatchPolicy::default(), Some(spool.clone())).expect("recorder");
    let day_start = Paris.with_ymd_and_hms(2026, 6, 2, 9, 0, 0).single().unwrap().with_timezone(&Utc);

    for i in 0..5 {
        one_call(&rec, i, day_start).await;
    }
    pg.ctl_stop();
    // Calls go on during the outage: acknowledged from the spool.
    for i in 5..15 {
        one_call(&rec, i, day_start).await;
    }
    let req = NewRequest {
        kind: RequestKind::Rappel,
        call_id: "out07".into(),
        flow: Flow::Choix2,
        at: day_start,
        topic: Some("@none".into()),
        keyed: "0600000000".into(),
        transcript: "rappel".into(),
    };
    tokio::time::timeout(Duration::from_secs(20), rec.request(req)).await.expect("request acknowledged").expect("writer alive");
    assert!(std::fs::metadata(&spool).unwrap().len() > 0, "the outage's batches are in the spool");
    pg.ctl_start();
    for i in 15..20 {
        one_call(&rec, i, day_start).await;
    }
    tokio::time::timeout(Duration::from_secs(30), rec.flush()).await.expect("flush").expect("writer alive");
    drop(rec);
    writer.join().await;

    let check = Store::connect(&pg.url()).await.expect("reconnect");
    let day = paris_day(day_start);
    let records = check.records(day, day, false).await.expect("records");
    let ids: Vec<String> = records.iter().map(|r| r.call_id.clone()).collect();
    let want: Vec<String> = (0..20).map(|i| format!("out{i:02}")).collect();
    assert_eq!(ids, want, "every call, once, in the order they ended");
    let v = check.verify_day(day).await.expect("verify");
    assert!(v.ok() && v.records == 20, "{v:?}");
    assert_eq!(check.requests(&RequestFilter::default()).await.unwrap().len(), 1);
    assert_eq!(std::fs::metadata(&spool).unwrap().len(), 0, "the spool is emptied once replayed");
    check.close().await;
}
