//! The console's tables on both databases: accounts (unique names, lock counter, disable),
//! sessions (stored hashed, idle and absolute expiry, ended by disable and password change),
//! and the audit chain (edits, deleted rows and a deleted tail detected; the 6-month purge
//! keeps the rest verifiable; the daily purge runs it).

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ivr_accounting::{days, AccountingConfig, Role, Store, AUDIT_RETENTION_DAYS};

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

async fn exec(url: &str, sql: &str) {
    use sqlx::Connection;
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
}

async fn accounts_and_sessions(url: &str) {
    let store = Store::connect(url).await.expect("connect");
    let id = store.create_account("agent.dupont", Role::Agent, "$argon2id$fake", at(1, 9)).await.unwrap().unwrap();
    assert_eq!(store.create_account("agent.dupont", Role::Admin, "$argon2id$x", at(1, 9)).await.unwrap(), None, "names are unique");
    store.create_account("admin", Role::Admin, "$argon2id$y", at(1, 9)).await.unwrap().unwrap();
    let a = store.account("agent.dupont").await.unwrap().unwrap();
    assert_eq!((a.id, a.role, a.disabled, a.failed_logins, a.locked_until), (id, Role::Agent, false, 0, None));
    assert_eq!(store.account_password_hash(id).await.unwrap().as_deref(), Some("$argon2id$fake"));
    assert_eq!(store.accounts().await.unwrap().iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), vec!["admin", "agent.dupont"]);

    // Failed logins count up; the lock function decides the lock.
    assert_eq!(store.record_failed_login(id, |_| None).await.unwrap(), 1);
    assert_eq!(store.record_failed_login(id, |n| (n >= 2).then(|| at(1, 10))).await.unwrap(), 2);
    let a = store.account("agent.dupont").await.unwrap().unwrap();
    assert_eq!((a.failed_logins, a.locked_until), (2, Some(at(1, 10))));
    store.record_login(id, at(1, 11)).await.unwrap();
    let a = store.account("agent.dupont").await.unwrap().unwrap();
    assert_eq!((a.failed_logins, a.locked_until, a.last_login_at), (0, None, Some(at(1, 11))));

    // Sessions: idle 15 min, at most 12 h.
    let idle = Duration::minutes(15);
    let max = Duration::hours(12);
    store.create_session(id, "tok-1", "csrf-1", at(2, 8)).await.unwrap();
    let s = store.touch_session("tok-1", at(2, 8) + Duration::minutes(10), idle, max).await.unwrap().unwrap();
    assert_eq!((s.account.name.as_str(), s.csrf.as_str()), ("agent.dupont", "csrf-1"));
    assert!(store.touch_session("tok-2", at(2, 8), idle, max).await.unwrap().is_none());
    // Kept alive by use up to the absolute limit.
    let mut t = at(2, 8);
    for _ in 0..60 {
        t += Duration::minutes(14);
        if t - at(2, 8) > max {
            break;
        }
        assert!(store.touch_session("tok-1", t, idle, max).await.unwrap().is_some());
    }
    assert!(store.touch_session("tok-1", at(2, 8) + max + Duration::minutes(1), idle, max).await.unwrap().is_none(), "absolute limit");
    // Idle expiry, and an expired session is gone for good.
    store.create_session(id, "tok-3", "c", at(3, 8)).await.unwrap();
    assert!(store.touch_session("tok-3", at(3, 8) + Duration::minutes(16), idle, max).await.unwrap().is_none());
    assert!(store.touch_session("tok-3", at(3, 8), idle, max).await.unwrap().is_none());
    // Disable and password change end the sessions.
    store.create_session(id, "tok-4", "c", at(4, 8)).await.unwrap();
    assert!(store.set_account_disabled("agent.dupont", true).await.unwrap());
    assert!(store.touch_session("tok-4", at(4, 8), idle, max).await.unwrap().is_none());
    assert!(store.set_account_disabled("agent.dupont", false).await.unwrap());
    store.create_session(id, "tok-5", "c", at(4, 9)).await.unwrap();
    assert!(store.set_account_password("agent.dupont", "$argon2id$new", at(4, 9)).await.unwrap());
    assert!(store.touch_session("tok-5", at(4, 9), idle, max).await.unwrap().is_none());
    assert_eq!(store.account_password_hash(id).await.unwrap().as_deref(), Some("$argon2id$new"));
    assert!(!store.set_account_password("nobody", "$argon2id$x", at(4, 9)).await.unwrap());
    store.close().await;
}

async fn audit_chain(url: &str) {
    let store = Store::connect(url).await.expect("connect");
    assert!(store.verify_audit().await.unwrap().ok(), "an empty chain verifies");
    for i in 0..6u32 {
        let seq = store.audit(at(1 + i, 9), "admin", "account-add", &format!("user{i}"), "agent").await.unwrap();
        assert_eq!(seq, i64::from(i) + 1);
    }
    let v = store.verify_audit().await.unwrap();
    assert_eq!((v.rows, v.ok()), (6, true));
    let newest = store.audit_entries(2).await.unwrap();
    assert_eq!(newest.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![6, 5]);
    assert_eq!(newest[0].prev_hash, newest[1].hash);

    // An edit is detected at its row.
    exec(url, "UPDATE console_audit SET detail = 'admin' WHERE seq = 3").await;
    let v = store.verify_audit().await.unwrap();
    assert_eq!(v.broken.as_ref().map(|b| b.0), Some(3), "{v:?}");
    exec(url, "UPDATE console_audit SET detail = 'agent' WHERE seq = 3").await;
    assert!(store.verify_audit().await.unwrap().ok(), "restored");

    // A deleted middle row.
    exec(url, "CREATE TABLE audit_copy AS SELECT * FROM console_audit").await;
    exec(url, "DELETE FROM console_audit WHERE seq = 4").await;
    assert_eq!(store.verify_audit().await.unwrap().broken.map(|b| b.0), Some(5));
    exec(url, "INSERT INTO console_audit SELECT * FROM audit_copy WHERE seq = 4").await;
    assert!(store.verify_audit().await.unwrap().ok());
    // A deleted tail: the head still names row 6.
    exec(url, "DELETE FROM console_audit WHERE seq = 6").await;
    let v = store.verify_audit().await.unwrap();
    assert!(!v.ok(), "{v:?}");
    exec(url, "INSERT INTO console_audit SELECT * FROM audit_copy WHERE seq = 6").await;
    // A row rewritten with a recomputed hash of its own still breaks the next link.
    let e = store.audit_entries(10).await.unwrap().into_iter().find(|e| e.seq == 2).unwrap();
    let forged = ivr_accounting::audit::audit_hash(&e.prev_hash, 2, e.at.timestamp_millis(), "someone", &e.action, &e.target, &e.detail);
    exec(url, &format!("UPDATE console_audit SET actor = 'someone', hash = '{forged}' WHERE seq = 2")).await;
    assert_eq!(store.verify_audit().await.unwrap().broken.map(|b| b.0), Some(3));
    exec(url, &format!("UPDATE console_audit SET actor = 'admin', hash = '{}' WHERE seq = 2", e.hash)).await;
    assert!(store.verify_audit().await.unwrap().ok());

    // Kept 6 months: the purge removes the old prefix and the rest still verifies.
    let now = at(3, 0) + Duration::days(i64::from(AUDIT_RETENTION_DAYS));
    assert_eq!(store.purge_audit(now).await.unwrap(), 2, "days 1 and 2 are past 183 days");
    let v = store.verify_audit().await.unwrap();
    assert_eq!((v.rows, v.ok()), (4, true), "{v:?}");
    store.audit(now, "admin", "login", "admin", "").await.unwrap();
    assert!(store.verify_audit().await.unwrap().ok());
    // The daily purge applies it too.
    let later = at(5, 12) + Duration::days(i64::from(AUDIT_RETENTION_DAYS));
    let s = days::purge(&store, &AccountingConfig::default(), later).await.unwrap();
    assert_eq!(s.audit_deleted, 3);
    let v = store.verify_audit().await.unwrap();
    assert_eq!((v.rows, v.ok()), (2, true), "{v:?}");
    store.close().await;
}

#[tokio::test]
async fn accounts_and_sessions_sqlite() {
    let db = common::sqlite();
    accounts_and_sessions(&db.url).await;
}

#[tokio::test]
async fn accounts_and_sessions_postgres() {
    if let Some(db) = common::postgres("console_acc").await {
        accounts_and_sessions(&db.url).await;
    }
}

#[tokio::test]
async fn audit_chain_sqlite() {
    let db = common::sqlite();
    audit_chain(&db.url).await;
}

#[tokio::test]
async fn audit_chain_postgres() {
    if let Some(db) = common::postgres("console_audit").await {
        audit_chain(&db.url).await;
    }
}
