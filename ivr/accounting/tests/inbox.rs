//! The unanswered-questions inbox on both databases: `@none` questions read back from
//! recorded calls (with their transcript while kept, without once purged) and from calls
//! still open, other intents left out but for a clarify question never resolved, details
//! dictated to a procedure never in, the window respected; marks stored and replaced.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ivr_accounting::{days, AccountingConfig, CallRecord, Caller, EndedBy, Event, EventKind, Flow, InboxMark, InboxStatus, Playback, Store};

fn at(day: u32, hour: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, min, 0).unwrap()
}

fn call(id: &str, flow: Flow, start: DateTime<Utc>, questions: &[(&str, &str)], end: bool) -> Vec<Event> {
    let mut ev =
        vec![Event::new(id, start, EventKind::Started { flow, caller: Caller::Withheld }), Event::new(id, start + Duration::seconds(1), EventKind::Answered)];
    for (i, (text, intent)) in questions.iter().enumerate() {
        let t = start + Duration::seconds(10 * (i as i64 + 1));
        ev.push(Event::new(id, t, EventKind::Question { transcript: (*text).into(), intent: (*intent).into(), score: 0.1 }));
    }
    if end {
        ev.push(Event::new(id, start + Duration::seconds(60), EventKind::Ended { by: EndedBy::Caller }));
    }
    ev
}

async fn run(url: &str) {
    let store = Store::connect(url).await.expect("connect");
    let done = call("c1", Flow::Choix2, at(2, 9, 0), &[("la météo de demain", "@none"), ("mon aah", "aah")], true);
    let other = call("c2", Flow::Choix3, at(3, 9, 0), &[("mot de passe perdu", "mot-de-passe")], true);
    let open = call("c3", Flow::Choix3, at(4, 9, 0), &[("ma carte vitale", "@none")], false);
    // Details dictated to a procedure are not questions: left out, recorded or still open.
    let mut dictated = call("c4", Flow::Choix2, at(2, 10, 0), &[], true);
    let prompt = |id: &str, t| Event::new("c4", t, EventKind::Played { what: Playback::Prompt(id.into()), total_ms: 9000, played_ms: 9000 });
    dictated.insert(2, prompt("callback_collect", at(2, 10, 5)));
    dictated.insert(3, Event::new("c4", at(2, 10, 20), EventKind::Question { transcript: "Paul Durand".into(), intent: "@none".into(), score: 0.0 }));
    dictated.insert(4, prompt("silence_reask", at(2, 10, 30)));
    dictated.insert(5, Event::new("c4", at(2, 10, 40), EventKind::Question { transcript: "8 rue des Tilleuls".into(), intent: "@none".into(), score: 0.0 }));
    dictated.insert(6, prompt("callback_done", at(2, 10, 50)));
    dictated.insert(7, Event::new("c4", at(2, 10, 55), EventKind::Question { transcript: "la météo".into(), intent: "@none".into(), score: 0.0 }));
    let mut open_dictation = call("c5", Flow::Choix2, at(4, 10, 0), &[], false);
    open_dictation.push(Event::new(
        "c5",
        at(4, 10, 5),
        EventKind::Played { what: Playback::Prompt("attestation_collect".into()), total_ms: 9000, played_ms: 9000 },
    ));
    open_dictation.push(Event::new("c5", at(4, 10, 20), EventKind::Question { transcript: "Claire Martin".into(), intent: "@none".into(), score: 0.0 }));
    let open: Vec<Event> = open.into_iter().chain(open_dictation).collect();
    // Keys as the service stores them ("prompt/<id>", "#<part>"): a clarify question the
    // caller never resolved is unanswered (c6); resolved, it is not (c7); a silence re-ask
    // inside a dictation keeps the dictation out (c8).
    let played = |call: &str, key: &str, t| Event::new(call, t, EventKind::Played { what: Playback::Prompt(key.into()), total_ms: 3000, played_ms: 3000 });
    let mut gave_up = call("c6", Flow::Choix2, at(3, 11, 0), &[("comment jeter les charges l'application", "application-mobile")], true);
    gave_up.insert(3, played("c6", "prompt/clarify#0", at(3, 11, 0) + Duration::seconds(14)));
    gave_up.insert(4, played("c6", "prompt/clarify#2", at(3, 11, 0) + Duration::seconds(18)));
    let mut resolved = call("c7", Flow::Choix2, at(3, 12, 0), &[("le ressort", "rsa")], true);
    resolved.insert(3, played("c7", "prompt/clarify#0", at(3, 12, 0) + Duration::seconds(14)));
    resolved.insert(
        4,
        Event::new("c7", at(3, 12, 0) + Duration::seconds(40), EventKind::Played { what: Playback::Answer("rsa".into()), total_ms: 20000, played_ms: 20000 }),
    );
    let mut keyed = call("c8", Flow::Choix2, at(3, 13, 0), &[], true);
    keyed.insert(2, played("c8", "prompt/callback_collect", at(3, 13, 5)));
    keyed.insert(3, played("c8", "prompt/silence_reask", at(3, 13, 15)));
    keyed.insert(4, Event::new("c8", at(3, 13, 20), EventKind::Question { transcript: "Paul Durand".into(), intent: "@none".into(), score: 0.0 }));
    let records = [
        CallRecord::from_events(&done).unwrap(),
        CallRecord::from_events(&other).unwrap(),
        CallRecord::from_events(&dictated).unwrap(),
        CallRecord::from_events(&gave_up).unwrap(),
        CallRecord::from_events(&resolved).unwrap(),
        CallRecord::from_events(&keyed).unwrap(),
    ];
    store.write_batch(&open, &records).await.unwrap();

    let all = store.unanswered_questions(at(1, 0, 0), at(10, 0, 0)).await.unwrap();
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!((all[0].call_id.as_str(), all[0].flow, all[0].transcript.as_deref()), ("c1", Flow::Choix2, Some("la météo de demain")));
    assert_eq!(all[0].at, at(2, 9, 0) + Duration::seconds(10));
    assert_eq!((all[1].call_id.as_str(), all[1].transcript.as_deref()), ("c4", Some("la météo")), "after the procedure's end, a question again");
    assert_eq!((all[2].call_id.as_str(), all[2].transcript.as_deref()), ("c6", Some("comment jeter les charges l'application")), "clarify never resolved");
    assert_eq!((all[3].call_id.as_str(), all[3].flow, all[3].transcript.as_deref()), ("c3", Flow::Choix3, Some("ma carte vitale")));
    // The window is exact, not by day.
    let later = store.unanswered_questions(at(2, 9, 1), at(10, 0, 0)).await.unwrap();
    assert_eq!(later.iter().map(|q| q.call_id.as_str()).collect::<Vec<_>>(), vec!["c4", "c6", "c3"]);

    // Past the transcripts' retention the question still counts, without its words.
    let cfg = AccountingConfig { transcript_retention_days: 1, ..AccountingConfig::default() };
    days::purge(&store, &cfg, at(9, 12, 0)).await.unwrap();
    let purged = store.unanswered_questions(at(1, 0, 0), at(10, 0, 0)).await.unwrap();
    assert_eq!(purged.len(), 4);
    assert_eq!(purged[0].transcript, None);

    // Marks: stored, replaced by a later decision, newest first.
    assert!(store.inbox_marks().await.unwrap().is_empty());
    let mark = InboxMark { text_key: "k1".into(), status: InboxStatus::Ignored, topic: None, by: "red".into(), at: at(5, 10, 0) };
    store.mark_inbox(&mark).await.unwrap();
    store.mark_inbox(&InboxMark { text_key: "k2".into(), status: InboxStatus::OutOfScope, topic: None, by: "red".into(), at: at(5, 11, 0) }).await.unwrap();
    store.mark_inbox(&InboxMark { status: InboxStatus::Phrasing, topic: Some("aah".into()), at: at(5, 12, 0), ..mark }).await.unwrap();
    let marks = store.inbox_marks().await.unwrap();
    assert_eq!(marks.len(), 2);
    assert_eq!((marks[0].text_key.as_str(), marks[0].status, marks[0].topic.as_deref()), ("k1", InboxStatus::Phrasing, Some("aah")));
    assert_eq!(marks[0].at, at(5, 12, 0));
    assert_eq!(marks[1].status, InboxStatus::OutOfScope);
    store.close().await;
}

#[tokio::test]
async fn inbox_sqlite() {
    let db = common::sqlite();
    run(&db.url).await;
}

#[tokio::test]
async fn inbox_postgres() {
    let Some(db) = common::postgres("inbox").await else {
        return;
    };
    run(&db.url).await;
}
