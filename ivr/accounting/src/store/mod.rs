//! The accounting store: one schema on SQLite (embedded default, WAL) or PostgreSQL
//! (shared by several instances), chosen by URL. Queries are written once with `$n`
//! placeholders (which both drivers accept) and run on whichever pool is configured.

mod chain;
mod keys;
mod read;
mod write;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::{Error, Result};

pub use chain::VerifyReport;

/// The default database: a SQLite file next to the working directory.
pub const DEFAULT_DB_URL: &str = "sqlite://data/ivr.sqlite";

/// Runs `$body` with `$p` bound to the concrete pool: each arm type-checks on its own driver.
macro_rules! on_pool {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::store::Pool::Sqlite($p) => $body,
            $crate::store::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A handle on the accounting database (cheap to clone).
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: Pool,
    url: std::sync::Arc<str>,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `url`:
    /// `sqlite://path`, `sqlite:path`, a bare file path, or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // synchronous_commit=on (the server default, enforced here): a commit returns
            // only once its WAL is flushed, which is what the Recorder's ack promises.
            let opts = PgConnectOptions::from_str(url)?.options([("synchronous_commit", "on")]);
            let pool = PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(10)).connect_with(opts).await?;
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
            Pool::Postgres(pool)
        } else {
            let url = if url.starts_with("sqlite:") { url.to_string() } else { format!("sqlite://{url}") };
            let opts = SqliteConnectOptions::from_str(&url)?;
            if let Some(dir) = opts.get_filename().parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)?;
                }
            }
            // WAL + synchronous=FULL: a committed transaction is fsynced to the WAL, so a
            // kill -9 (or power loss) after commit loses nothing; readers never block the writer.
            let opts =
                opts.create_if_missing(true).journal_mode(SqliteJournalMode::Wal).synchronous(SqliteSynchronous::Full).busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
            Pool::Sqlite(pool)
        };
        Ok(Store { pool, url: url.into() })
    }

    /// A new pool on the same database, for a task that runs on another runtime (a pool's
    /// connections belong to the runtime that opened them).
    pub(crate) async fn reopen(&self) -> Result<Store> {
        Store::connect(&self.url).await
    }

    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_pool!(&self.pool, p => p.close().await)
    }
}

/// Days are stored as ISO text ("2026-05-04"), which sorts and compares as dates on both engines.
pub(crate) fn day_text(d: chrono::NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(crate) fn parse_day(s: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| Error::Corrupt(format!("bad day {s:?}")))
}
