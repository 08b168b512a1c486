//! Supervision tables on both databases: heartbeats upserted per instance and listed by
//! freshness, the one-row switches with who set them, closures added and removed, and the
//! last hour's figures counted like the report's.

mod common;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use ivr_accounting::supervision::last_hour;
use ivr_accounting::{CallRecord, Caller, EndedBy, Event, EventKind, Flow, InstanceBeat, LiveCall, Playback, Sc32Rule, Store, SwitchFlags};

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

fn record(id: &str, at: chrono::DateTime<Utc>, ended: EndedBy, answer_heard: bool, transfer: bool) -> CallRecord {
    let mut ev = vec![
        Event::new(id.to_string(), at, EventKind::Started { flow: Flow::Choix2, caller: Caller::Withheld }),
        Event::new(id.to_string(), at, EventKind::Answered),
    ];
    if answer_heard {
        let what = Playback::Answer("aide-logement".into());
        ev.push(Event::new(id.to_string(), at + Duration::seconds(5), EventKind::Played { what, total_ms: 4000, played_ms: 4000 }));
    }
    if transfer {
        ev.push(Event::new(
            id.to_string(),
            at + Duration::seconds(8),
            EventKind::Transfer { target: "sip:q@x".into(), reason: "asked".into(), to_agent: true },
        ));
    }
    ev.push(Event::new(id.to_string(), at + Duration::seconds(10), EventKind::Ended { by: ended }));
    CallRecord::from_events(&ev).unwrap()
}

async fn run(url: &str) {
    let store = Store::connect(url).await.expect("connect");
    let t0 = Utc.with_ymd_and_hms(2026, 6, 2, 8, 0, 0).unwrap();

    // Heartbeats: one row per name, replaced; only fresh ones listed.
    let call = LiveCall { reference: "a1b2c3".into(), flow: 2, state: "listening".into(), topic: Some("aide-logement".into()), started: t0 };
    let mut a = InstanceBeat {
        name: "ivr-a:5060".into(),
        started: t0,
        updated: t0,
        sip_up: true,
        calls: vec![call.clone()],
        asr_queue: 1,
        asr_p50_ms: Some(300),
        asr_p95_ms: Some(900),
        content: None,
    };
    store.heartbeat(&a).await.unwrap();
    let b = InstanceBeat { name: "ivr-b:5060".into(), calls: vec![], asr_p50_ms: None, asr_p95_ms: None, ..a.clone() };
    store.heartbeat(&b).await.unwrap();
    a.updated = t0 + Duration::seconds(20);
    a.calls.clear();
    a.content = Some("7".into());
    store.heartbeat(&a).await.unwrap();
    let fresh = store.instances_since(t0 + Duration::seconds(10)).await.unwrap();
    assert_eq!(fresh, vec![a.clone()], "the stale instance b is left out, a's row replaced");
    let all = store.instances_since(t0).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].asr_p50_ms, None);

    // Switches: all off until set; one row, who and when.
    let s = store.switch_state().await.unwrap();
    assert_eq!(s.flags, SwitchFlags::default());
    assert!(s.set_by.is_none());
    store.set_switches(SwitchFlags { crisis: true, ..Default::default() }, "sup1", t0).await.unwrap();
    store.set_switches(SwitchFlags { crisis: true, closed: true, ..Default::default() }, "sup2", t0 + Duration::seconds(1)).await.unwrap();
    let s = store.switch_state().await.unwrap();
    assert_eq!(s.flags, SwitchFlags { saturation: false, crisis: true, closed: true });
    assert_eq!(s.set_by.as_deref(), Some("sup2"));
    assert_eq!(s.set_at, Some(t0 + Duration::seconds(1)));

    // Closures: ranges (swapped when backwards), listed from a day, removed by id.
    let bridge = store.add_closure(day(5, 15), day(5, 15), "  Pont de l'Ascension ", "sup1", t0).await.unwrap();
    let works = store.add_closure(day(8, 14), day(8, 10), "Travaux", "sup1", t0).await.unwrap();
    let all = store.closures(None).await.unwrap();
    assert_eq!(all.iter().map(|c| c.id).collect::<Vec<_>>(), vec![bridge, works]);
    assert_eq!(all[0].label, "Pont de l'Ascension");
    assert_eq!((all[1].first, all[1].last), (day(8, 10), day(8, 14)));
    assert!(all[1].covers(day(8, 12)) && !all[1].covers(day(8, 15)));
    let ahead = store.closures(Some(day(6, 1))).await.unwrap();
    assert_eq!(ahead.len(), 1, "a closure over before the day is not listed");
    let removed = store.remove_closure(bridge).await.unwrap().expect("removed");
    assert_eq!(removed.label, "Pont de l'Ascension");
    assert!(store.remove_closure(bridge).await.unwrap().is_none());
    assert_eq!(store.closures(None).await.unwrap().len(), 1);

    // The last hour: an answered call, a transferred one, an abandoned one; one too old.
    let now = t0 + Duration::minutes(50);
    let recs = [
        record("h1", t0 + Duration::minutes(10), EndedBy::Bot, true, false),
        record("h2", t0 + Duration::minutes(20), EndedBy::Transfer, false, true),
        record("h3", t0 + Duration::minutes(30), EndedBy::Caller, false, false),
        record("old", t0 - Duration::minutes(30), EndedBy::Caller, false, false),
    ];
    store.write_batch(&[], &recs).await.unwrap();
    let f = last_hour(&store, &Sc32Rule::default(), now).await.unwrap();
    assert_eq!((f.calls, f.answered_by_bot, f.transferred, f.abandoned), (3, 1, 1, 1));
    store.close().await;
}

#[tokio::test]
async fn supervision_sqlite() {
    let db = common::sqlite();
    run(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervision_postgres() {
    let Some(pg) = common::OwnPostgres::start() else { return };
    run(&pg.url()).await;
}
