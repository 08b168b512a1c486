//! Procedure requests on both databases: stored as the bot hands them over, listed and
//! filtered for agents, marked handled once, purged per retention (personal fields erased,
//! the row kept as `purged`), and the purge counted by the daily retention run.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ivr_accounting::{days, AccountingConfig, Flow, NewRequest, RequestFilter, RequestKind, RequestRetention, RequestStatus, Store};

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

fn request(kind: RequestKind, call: &str, when: DateTime<Utc>, keyed: &str, said: &str) -> NewRequest {
    NewRequest {
        kind,
        call_id: call.into(),
        flow: Flow::Choix2,
        at: when,
        topic: Some(match kind {
            RequestKind::Rappel => "@none".into(),
            RequestKind::AttestationNonPaiement => "attestation-non-paiement".into(),
        }),
        keyed: keyed.into(),
        transcript: said.into(),
    }
}

async fn run(url: &str) {
    let store = Store::connect(url).await.expect("connect");
    let callback = store.insert_request(&request(RequestKind::Rappel, "c1", at(2, 9), "0612345678", "Paul Durand / aide au logement")).await.unwrap();
    let attest =
        store.insert_request(&request(RequestKind::AttestationNonPaiement, "c2", at(3, 10), "", "Claire Martin, 8 rue des Tilleuls, Nantes")).await.unwrap();
    let late = store.insert_request(&request(RequestKind::Rappel, "c3", at(20, 11), "0698765432", "un rappel s'il vous plaît")).await.unwrap();

    // Newest first; filters by status and kind.
    let all = store.requests(&RequestFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), vec![late, attest, callback]);
    let first = all.iter().find(|r| r.id == callback).unwrap();
    assert_eq!(first.kind, RequestKind::Rappel);
    assert_eq!(first.flow, Flow::Choix2);
    assert_eq!(first.created_at, at(2, 9));
    assert_eq!(first.keyed.as_deref(), Some("0612345678"));
    assert_eq!(first.transcript.as_deref(), Some("Paul Durand / aide au logement"));
    assert_eq!(first.topic.as_deref(), Some("@none"));
    assert_eq!(first.status, RequestStatus::New);
    let rappels = store.requests(&RequestFilter { kind: Some(RequestKind::Rappel), ..Default::default() }).await.unwrap();
    assert_eq!(rappels.len(), 2);
    let limited = store.requests(&RequestFilter { limit: Some(1), ..Default::default() }).await.unwrap();
    assert_eq!(limited.len(), 1);
    let window = store.requests(&RequestFilter { from: Some(at(3, 0)), to: Some(at(4, 0)), ..Default::default() }).await.unwrap();
    assert_eq!(window.iter().map(|r| r.id).collect::<Vec<_>>(), vec![attest]);

    // Handled once; a second time is refused; an unknown id too.
    assert!(store.mark_request_handled(callback, "agent.dupont", at(2, 14)).await.unwrap());
    assert!(!store.mark_request_handled(callback, "agent.dupont", at(2, 15)).await.unwrap());
    assert!(!store.mark_request_handled(9_999_999, "x", at(2, 15)).await.unwrap());
    let handled = store.request(callback).await.unwrap().unwrap();
    assert_eq!(handled.status, RequestStatus::Handled);
    assert_eq!(handled.handled_by.as_deref(), Some("agent.dupont"));
    assert_eq!(handled.handled_at, Some(at(2, 14)));
    let new = store.requests(&RequestFilter { status: Some(RequestStatus::New), ..Default::default() }).await.unwrap();
    assert_eq!(new.len(), 2);

    // Retention: 30 days after handling, 90 days at most unhandled.
    let retention = RequestRetention::default();
    assert_eq!(store.purge_requests(retention, at(2, 14) + Duration::days(29)).await.unwrap(), 0);
    assert_eq!(store.purge_requests(retention, at(2, 14) + Duration::days(31)).await.unwrap(), 1);
    let purged = store.request(callback).await.unwrap().unwrap();
    assert_eq!(purged.status, RequestStatus::Purged);
    assert_eq!((purged.keyed.as_deref(), purged.transcript.as_deref()), (None, None));
    assert_eq!(purged.kind, RequestKind::Rappel, "the row stays for the counts");
    // The unhandled attestation goes at 90 days, not before; the later one stays.
    assert_eq!(store.purge_requests(retention, at(3, 10) + Duration::days(89)).await.unwrap(), 0);
    assert_eq!(store.purge_requests(retention, at(3, 11) + Duration::days(90)).await.unwrap(), 1);
    assert_eq!(store.request(attest).await.unwrap().unwrap().status, RequestStatus::Purged);
    assert_eq!(store.request(late).await.unwrap().unwrap().status, RequestStatus::New);
    // Purged rows cannot be handled any more, nor purged twice.
    assert!(!store.mark_request_handled(attest, "x", at(28, 9)).await.unwrap());
    assert_eq!(store.purge_requests(retention, at(3, 11) + Duration::days(90)).await.unwrap(), 0);

    // The daily retention run counts them too.
    let cfg = AccountingConfig { requests: RequestRetention { handled_days: 30, max_days: 1 }, ..AccountingConfig::default() };
    let s = days::purge(&store, &cfg, at(28, 12)).await.unwrap();
    assert_eq!(s.requests_purged, 1);
    assert_eq!(store.request(late).await.unwrap().unwrap().status, RequestStatus::Purged);
    store.close().await;
}

#[tokio::test]
async fn requests_sqlite() {
    let db = common::sqlite();
    run(&db.url).await;
}

#[tokio::test]
async fn requests_postgres() {
    let Some(db) = common::postgres("requests").await else {
        return;
    };
    run(&db.url).await;
}
