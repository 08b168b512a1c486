//! Content versions on both databases: versions are stored whole and listed newest first,
//! only a valid known version can be published, the latest publication is what runs, a
//! rollback is a new version made from an old snapshot, the one shared draft is saved and
//! discarded, and each instance's report replaces its previous one.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use ivr_accounting::{ContentDraft, ContentSnapshot, Error, InstanceContent, Store};

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, minute, 0).unwrap()
}

fn snapshot(answer: &str) -> ContentSnapshot {
    let mut s = ContentSnapshot::default();
    s.files.insert("knowledge/aah.toml".into(), format!("slug = \"aah\"\nanswer = \"{answer}\"\n"));
    s.files.insert("prompts/prompts.toml".into(), "[welcome]\ntext = \"Bonjour\"\n".into());
    s
}

async fn run(url: &str) {
    let store = Store::connect(url).await.expect("connect");
    assert!(store.published_content().await.unwrap().is_none());
    assert!(store.content_versions(10).await.unwrap().is_empty());

    let v1 = store.create_content_version(&snapshot("Première réponse."), "import", "fichiers du dépôt", &[], at(0)).await.unwrap();
    let bad_problems = vec!["knowledge/aah.toml:2: answer is empty".to_string()];
    let bad = store.create_content_version(&snapshot(""), "cli:marie", "essai", &bad_problems, at(1)).await.unwrap();
    let v2 = store.create_content_version(&snapshot("Réponse plus courte."), "cli:marie", "plus court", &[], at(2)).await.unwrap();
    assert!(v1 < bad && bad < v2);

    let list = store.content_versions(10).await.unwrap();
    assert_eq!(list.iter().map(|v| v.id).collect::<Vec<_>>(), vec![v2, bad, v1]);
    assert_eq!(store.content_versions(1).await.unwrap().len(), 1);
    let (meta, snap) = store.content_version(bad).await.unwrap().unwrap();
    assert_eq!(meta.problems, bad_problems);
    assert_eq!(meta.author, "cli:marie");
    assert_eq!(meta.created_at, at(1));
    assert_eq!(meta.digest, snapshot("").digest());
    assert_eq!(snap, snapshot(""));
    assert!(meta.first_published_at.is_none());
    assert!(store.content_version(9_999).await.unwrap().is_none());

    // Refused: unknown, or with problems. Nothing is published by a refusal.
    assert!(matches!(store.publish_content_version(9_999, "x", at(3)).await, Err(Error::UnknownContentVersion(9_999))));
    match store.publish_content_version(bad, "x", at(3)).await {
        Err(Error::InvalidContentVersion { id, problems }) => {
            assert_eq!(id, bad);
            assert_eq!(problems, bad_problems);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(store.published_content().await.unwrap().is_none());

    let p1 = store.publish_content_version(v1, "import", at(4)).await.unwrap();
    assert_eq!((p1.version, p1.at, p1.by.as_str()), (v1, at(4), "import"));
    let p2 = store.publish_content_version(v2, "cli:marie", at(5)).await.unwrap();
    assert!(p2.seq > p1.seq);
    let (running, version) = store.published_content().await.unwrap().unwrap();
    assert_eq!(running, p2);
    assert_eq!(version.id, v2);
    assert_eq!(version.first_published_at, Some(at(5)));

    // Rollback: a new version from v1's snapshot; v1 keeps its first publication time.
    let (_, old) = store.content_version(v1).await.unwrap().unwrap();
    let v3 = store.create_content_version(&old, "cli:marie", &format!("retour à la version {v1}"), &[], at(6)).await.unwrap();
    store.publish_content_version(v3, "cli:marie", at(7)).await.unwrap();
    let (_, version) = store.published_content().await.unwrap().unwrap();
    assert_eq!(version.id, v3);
    assert_eq!(version.digest, snapshot("Première réponse.").digest());
    store.publish_content_version(v1, "cli:marie", at(8)).await.unwrap();
    let (again, _) = store.content_version(v1).await.unwrap().unwrap();
    assert_eq!(again.first_published_at, Some(at(4)));
    let pubs = store.publications(10).await.unwrap();
    assert_eq!(pubs.iter().map(|p| p.version).collect::<Vec<_>>(), vec![v1, v3, v2, v1]);

    // The one shared draft.
    assert!(store.content_draft().await.unwrap().is_none());
    let mut draft = ContentDraft { snapshot: snapshot("Brouillon."), base_version: Some(v3), updated_at: at(9), updated_by: "editrice".into() };
    store.save_content_draft(&draft).await.unwrap();
    assert_eq!(store.content_draft().await.unwrap().as_ref(), Some(&draft));
    draft.snapshot = snapshot("Brouillon modifié.");
    draft.base_version = None;
    draft.updated_at = at(10);
    store.save_content_draft(&draft).await.unwrap();
    assert_eq!(store.content_draft().await.unwrap().as_ref(), Some(&draft));
    store.discard_content_draft().await.unwrap();
    assert!(store.content_draft().await.unwrap().is_none());
    store.discard_content_draft().await.unwrap();

    // One row per instance, replaced at each report.
    let mut report = InstanceContent { instance: "ivr-a:5060".into(), version: v2, ok: true, detail: String::new(), at: at(11) };
    store.report_instance_content(&report).await.unwrap();
    store.report_instance_content(&InstanceContent { instance: "ivr-b:5060".into(), version: v2, ok: true, detail: String::new(), at: at(11) }).await.unwrap();
    report.version = v3;
    report.ok = false;
    report.detail = "knowledge/aah.toml:2: answer is empty".into();
    report.at = at(12);
    store.report_instance_content(&report).await.unwrap();
    let all = store.instance_contents().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], report);
    assert_eq!(all[1].instance, "ivr-b:5060");
    store.close().await;
}

#[tokio::test]
async fn content_store_sqlite() {
    let db = common::sqlite();
    run(&db.url).await;
}

#[tokio::test]
async fn content_store_postgres() {
    if let Some(db) = common::postgres("content_store").await {
        run(&db.url).await;
        return;
    }
    let Some(pg) = common::OwnPostgres::start() else { return };
    run(&pg.url()).await;
}
