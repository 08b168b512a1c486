//! Databases for the accounting tests: a fresh SQLite file, and a fresh database on the
//! PostgreSQL named by IVR_TEST_PG_URL (started by scripts/pg-test-server.sh). Under CI the
//! PostgreSQL half must run: a missing URL fails the test instead of skipping it.

#![allow(dead_code)]

use sqlx::Connection;

pub struct TestDb {
    pub url: String,
    // Kept alive for the test's duration: the SQLite file lives in it.
    _dir: Option<tempfile::TempDir>,
}

pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("acc.sqlite").display());
    TestDb { url, _dir: Some(dir) }
}

/// None (skip) only outside CI when no PostgreSQL was provided.
pub async fn postgres(name: &str) -> Option<TestDb> {
    let base = match std::env::var("IVR_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but IVR_TEST_PG_URL is not set: the PostgreSQL half of this test must run (scripts/pg-test-server.sh)");
            }
            eprintln!("IVR_TEST_PG_URL not set: PostgreSQL half of {name} skipped (source scripts/pg-test-server.sh)");
            return None;
        }
    };
    let db = format!("t_{name}_{}_{}", std::process::id(), rand_suffix());
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("connect to IVR_TEST_PG_URL");
    sqlx::query(&format!("CREATE DATABASE {db}")).execute(&mut admin).await.expect("create test database");
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database");
    Some(TestDb { url: format!("{prefix}/{db}"), _dir: None })
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos() as u64).unwrap_or(0)
}

#[path = "../../../../tests/support/postgres.rs"]
mod own_postgres;
#[allow(unused_imports)]
pub use own_postgres::OwnPostgres;
