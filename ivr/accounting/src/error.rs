//! Errors of the accounting crate.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (expected sqlite:… or postgres://…): {0}")]
    UnsupportedUrl(String),
    #[error("stored record is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("incomplete call events for {call_id}: {why}")]
    IncompleteCall { call_id: String, why: &'static str },
    #[error("the pseudonym key of day {0} was destroyed (day closed)")]
    KeyDestroyed(chrono::NaiveDate),
    #[error("day {day} cannot be closed yet: {open} call(s) still in progress")]
    DayBusy { day: chrono::NaiveDate, open: usize },
    #[error("the recorder's writer task has stopped")]
    WriterGone,
    #[error("{0} timed out")]
    Timeout(&'static str),
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error("content version {0} does not exist")]
    UnknownContentVersion(i64),
    #[error("content version {id} cannot be published: {} problem(s), first: {}", problems.len(), problems.first().map(String::as_str).unwrap_or(""))]
    InvalidContentVersion { id: i64, problems: Vec<String> },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, Error>;
