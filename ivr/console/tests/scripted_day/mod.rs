//! A scripted day of calls written straight to a store with `Store::write_batch`, as the
//! service's recorder writes them: shared by the dashboard and call review tests (the
//! console's handler and browser tests, and the root crate's report test).
//!
//! The day holds: a caller who hears the RSA answer to its end (productive), a keypad
//! transfer to an agent, a caller who hangs up twice during the greeting (abandons, the
//! first one reiterated), a withheld caller who cuts the answer short by speaking over it,
//! and a call still in progress (events only, no record). The day before holds one
//! productive call and is closed, so the period mixes final and provisional figures.
#![allow(dead_code)]

use ivr_accounting::chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use ivr_accounting::{days, CallRecord, Caller, EndedBy, Event, EventKind, Flow, Playback, Sc32Rule, Store};

/// What the RSA caller said (the call page must show it until the retention purge).
pub const RSA_QUESTION: &str = "comment est-ce que je peux toucher le RSA";
/// What the caller still on the line said.
pub const OPEN_QUESTION: &str = "je voudrais une attestation de paiement";

/// 09:00 on `day` in Paris, plus `s` seconds.
pub fn at(day: NaiveDate, s: i64) -> DateTime<Utc> {
    let local = day.and_hms_opt(9, 0, 0).expect("09:00");
    let paris = chrono_tz::Europe::Paris.from_local_datetime(&local).earliest().expect("09:00 exists in Paris");
    paris.with_timezone(&Utc) + Duration::seconds(s)
}

fn started(flow: Flow, caller: &str) -> EventKind {
    let caller = if caller.is_empty() { Caller::Withheld } else { Caller::Pseudonym(caller.to_string()) };
    EventKind::Started { flow, caller }
}

fn played(answer: bool, name: &str, total_ms: u64, played_ms: u64) -> EventKind {
    let what = if answer { Playback::Answer(name.into()) } else { Playback::Prompt(name.into()) };
    EventKind::Played { what, total_ms, played_ms }
}

fn question(text: &str, intent: &str, score: f32) -> EventKind {
    EventKind::Question { transcript: text.into(), intent: intent.into(), score }
}

/// One scripted call: its name, its start (seconds after 09:00) and its events (seconds after its start).
type Script = (&'static str, i64, Vec<(i64, EventKind)>);

/// The calls of `day`: (call id, events), each starting `start` seconds after 09:00.
pub fn calls(day: NaiveDate) -> Vec<(String, Vec<Event>)> {
    let script: Vec<Script> = vec![
        (
            "listen",
            0,
            vec![
                (0, started(Flow::Choix2, "aaaaaaaa11111111")),
                (1, EventKind::Answered),
                (6, played(false, "greeting", 5000, 5000)),
                (10, question(RSA_QUESTION, "rsa", 0.87)),
                (42, played(true, "rsa", 30_000, 30_000)),
                (50, played(false, "goodbye", 2000, 2000)),
                (51, EventKind::Ended { by: EndedBy::Bot }),
            ],
        ),
        (
            "agent",
            120,
            vec![
                (0, started(Flow::Choix3, "bbbbbbbb22222222")),
                (1, EventKind::Answered),
                (3, EventKind::Dtmf { digit: '0' }),
                (4, EventKind::Transfer { target: "sip:agents@cc".into(), reason: "keypad0".into(), to_agent: true }),
                (6, EventKind::Ended { by: EndedBy::Transfer }),
            ],
        ),
        (
            "early1",
            300,
            vec![
                (0, started(Flow::Choix2, "cccccccc33333333")),
                (1, EventKind::Answered),
                (3, played(false, "greeting", 5000, 2000)),
                (3, EventKind::Ended { by: EndedBy::Caller }),
            ],
        ),
        (
            "early2",
            400,
            vec![
                (0, started(Flow::Choix2, "cccccccc33333333")),
                (1, EventKind::Answered),
                (2, played(false, "greeting", 5000, 1000)),
                (2, EventKind::Ended { by: EndedBy::Caller }),
            ],
        ),
        (
            "barge",
            600,
            vec![
                (0, started(Flow::Choix2, "")),
                (1, EventKind::Answered),
                (6, played(false, "greeting", 5000, 5000)),
                (9, question("les horaires de la caf", "horaires", 0.64)),
                (14, EventKind::BargeIn),
                (14, played(true, "horaires", 12_000, 4000)),
                (20, EventKind::Ended { by: EndedBy::Caller }),
            ],
        ),
        (
            "open",
            900,
            vec![
                (0, started(Flow::Choix3, "dddddddd44444444")),
                (1, EventKind::Answered),
                (6, played(false, "greeting", 5000, 5000)),
                (9, question(OPEN_QUESTION, "attestation", 0.71)),
            ],
        ),
    ];
    script
        .into_iter()
        .map(|(name, start, evs)| {
            let id = format!("{name}-{day}@trunk.example");
            let events = evs.into_iter().map(|(s, k)| Event::new(id.clone(), at(day, start + s), k)).collect();
            (id, events)
        })
        .collect()
}

/// The id of the call named `name` ("listen", "agent", "early1", "early2", "barge", "open").
pub fn call_id(day: NaiveDate, name: &str) -> String {
    format!("{name}-{day}@trunk.example")
}

/// Writes the day before `day` (one productive call, then closed) and `day` (the calls above:
/// every one ended is recorded, the open one stays as events).
pub async fn write(store: &Store, rule: &Sc32Rule, day: NaiveDate) {
    let before = day.pred_opt().expect("a day before");
    let prev: Vec<Event> = calls(before).into_iter().find(|(id, _)| id.starts_with("listen-")).map(|(_, e)| e).expect("listen call");
    store.write_batch(&prev, &[CallRecord::from_events(&prev).expect("record")]).await.expect("write the day before");
    days::close_day(store, rule, before, at(day, 0), std::time::Duration::from_secs(3600)).await.expect("close the day before");
    for (id, events) in calls(day) {
        if id.starts_with("open-") {
            store.write_batch(&events, &[]).await.expect("write the open call's events");
        } else {
            let rec = CallRecord::from_events(&events).expect("record");
            store.write_batch(&events, &[rec]).await.expect("write a call");
        }
    }
}
