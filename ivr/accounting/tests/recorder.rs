//! The Recorder never makes its caller wait, even when the queue is full, and never drops
//! an ended call's record (events may be dropped, and are counted).

mod common;

use std::time::{Duration, Instant};

use ivr_accounting::chrono::{NaiveDate, TimeZone, Utc};
use ivr_accounting::{BatchPolicy, CallRecord, Caller, EndedBy, Event, EventKind, Flow, Recorder, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_drops_events_but_not_records() {
    let db = common::sqlite();
    let store = Store::connect(&db.url).await.expect("connect");
    let policy = BatchPolicy { max_items: 8, window: Duration::from_millis(5), queue_capacity: 4 };
    let (rec, writer) = Recorder::start(store.clone(), policy).expect("writer");
    let t0 = Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap();
    let mut commits = Vec::new();
    let started = Instant::now();
    let mut worst = Duration::ZERO;
    for c in 0..200 {
        let id = format!("q{c}");
        let ev = vec![
            Event::new(&id, t0, EventKind::Started { flow: Flow::Choix3, caller: Caller::Withheld }),
            Event::new(&id, t0, EventKind::Answered),
            Event::new(&id, t0 + ivr_accounting::chrono::Duration::seconds(5), EventKind::Ended { by: EndedBy::Caller }),
        ];
        for e in &ev {
            let t = Instant::now();
            rec.record(e.clone());
            worst = worst.max(t.elapsed());
        }
        let t = Instant::now();
        commits.push(rec.finish_call(CallRecord::from_events(&ev).expect("fold")));
        worst = worst.max(t.elapsed());
    }
    let producing = started.elapsed();
    for c in commits {
        tokio::time::timeout(Duration::from_secs(30), c).await.expect("committed in time").expect("committed");
    }
    assert!(rec.dropped_events() > 0, "a queue of 4 cannot take 600 events at once");
    // 800 non-blocking calls; generous bound for a loaded 2-core machine.
    assert!(producing < Duration::from_millis(500), "producing took {producing:?} (worst call {worst:?})");
    let day = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let recs = store.records(day, day, false).await.expect("records");
    assert_eq!(recs.len(), 200, "every ended call is recorded");
    assert!(store.verify_day(day).await.expect("verify").ok());
    drop(rec);
    writer.join().await;
}
