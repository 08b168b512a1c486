//! Accounting configuration (the `[accounting]` table of the service configuration).

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::sc32::Sc32Rule;
use crate::store::DEFAULT_DB_URL;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountingConfig {
    /// `sqlite://path` (default `sqlite://data/ivr.sqlite`) or `postgres://…`.
    pub db_url: String,
    /// The SC3.2 reading (see `sc32.rs`).
    pub sc32: Sc32Rule,
    /// Europe/Paris time, on the following day, at which the server closes the previous day.
    /// After the opening hours and with margin for late calls: 03:00.
    pub close_at: NaiveTime,
    /// A call still without an end this long after its last event is treated as lost when
    /// its day is closed (the process that handled it died).
    pub open_call_timeout_s: u64,
    /// Pseudonym keys are destroyed this long after their day was closed.
    pub key_grace_s: u64,
    /// Question transcripts are deleted after this many days.
    pub transcript_retention_days: u32,
    /// Call records (and outcomes) are deleted after this many days; None keeps them.
    pub record_retention_days: Option<u32>,
    /// Recorder batching: a batch is committed when it has this many items...
    pub batch_max: usize,
    /// ...or this long after its first item arrived.
    pub batch_window_ms: u64,
    /// Bounded queue between the call tasks and the writer.
    pub queue_capacity: usize,
}

impl Default for AccountingConfig {
    fn default() -> Self {
        AccountingConfig {
            db_url: DEFAULT_DB_URL.to_string(),
            sc32: Sc32Rule::default(),
            close_at: NaiveTime::from_hms_opt(3, 0, 0).unwrap_or(NaiveTime::MIN),
            open_call_timeout_s: 3600,
            key_grace_s: 3600,
            transcript_retention_days: 30,
            record_retention_days: None,
            batch_max: 512,
            batch_window_ms: 50,
            queue_capacity: 65_536,
        }
    }
}
