//! Accounting configuration (the `[accounting]` table of the service configuration).

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::requests::RequestRetention;
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
    /// Procedure requests (call-back, attestation): personal fields erased after this.
    pub requests: RequestRetention,
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
            requests: RequestRetention::default(),
            batch_max: 512,
            batch_window_ms: 50,
            queue_capacity: 65_536,
        }
    }
}

impl AccountingConfig {
    /// Reads the `[accounting]` table of a TOML configuration file (other tables are ignored;
    /// a missing table gives the defaults).
    pub fn from_toml_file(path: &std::path::Path) -> Result<AccountingConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.display().to_string(), e))?;
        Self::from_toml(&text)
    }

    pub fn from_toml(text: &str) -> Result<AccountingConfig, ConfigError> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            accounting: AccountingConfig,
        }
        let f: File = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        Ok(f.accounting)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("invalid [accounting] configuration: {0}")]
    Parse(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sc32::{AnswerAggregation, ReiterationPolicy};

    #[test]
    fn toml_overrides_only_what_it_names() {
        let c = AccountingConfig::from_toml(
            "[sip]\nport = 5060\n[accounting]\ndb_url = \"postgres://x/y\"\nclose_at = \"04:30:00\"\n[accounting.sc32]\nheard_threshold = 0.8\nanswers = \"all_heard\"\nreiteration = \"all_calls_lose\"\n",
        )
        .unwrap();
        assert_eq!(c.db_url, "postgres://x/y");
        assert_eq!(c.sc32.heard_threshold, 0.8);
        assert_eq!(c.sc32.answers, AnswerAggregation::AllHeard);
        assert_eq!(c.sc32.reiteration, ReiterationPolicy::AllCallsLose);
        assert!(c.sc32.withheld_productive);
        assert_eq!(c.close_at, NaiveTime::from_hms_opt(4, 30, 0).unwrap());
        assert_eq!(c.transcript_retention_days, 30);
        assert!(AccountingConfig::from_toml("[accounting]\nheard = 1").is_err(), "typos are refused");
        assert_eq!(AccountingConfig::from_toml("").unwrap(), AccountingConfig::default());
    }
}
