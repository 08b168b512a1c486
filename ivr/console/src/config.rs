//! The `[console]` table of the `ivr serve` configuration.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// PEM certificate chain and private key: with both, the console speaks HTTPS (rustls,
    /// TLS 1.2 and 1.3) and may listen on any address; without, it binds to loopback only.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// A session unused this long is over.
    pub idle_timeout_min: u32,
    /// A session is over this long after login, used or not.
    pub session_max_hours: u32,
    /// From this many failed logins in a row, each failure locks the account for
    /// `throttle_s` seconds, doubling (throttling).
    pub throttle_after: u32,
    pub throttle_s: u32,
    /// From this many, the account is locked for `lock_minutes`.
    pub lock_after: u32,
    pub lock_minutes: u32,
    /// Bearer token that lets a non-loopback scraper read `/metrics` (loopback peers need
    /// none); unset: loopback only.
    pub metrics_token: Option<String>,
    /// A topic whose `reviewed` date is older than this many days is flagged on the
    /// editors' topic list.
    pub stale_after_days: u32,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            cert: None,
            key: None,
            idle_timeout_min: 15,
            session_max_hours: 12,
            throttle_after: 3,
            throttle_s: 10,
            lock_after: 5,
            lock_minutes: 15,
            metrics_token: None,
            stale_after_days: 180,
        }
    }
}

impl ConsoleConfig {
    /// How long the account is locked after its `failures`-th failed login in a row.
    pub fn lock_for(&self, failures: u32) -> Option<chrono::Duration> {
        if failures >= self.lock_after {
            Some(chrono::Duration::minutes(i64::from(self.lock_minutes)))
        } else if failures >= self.throttle_after {
            let doublings = (failures - self.throttle_after).min(10);
            Some(chrono::Duration::seconds(i64::from(self.throttle_s) << doublings))
        } else {
            None
        }
    }

    /// Whether both halves of the TLS configuration are given.
    pub fn tls(&self) -> Option<(&std::path::Path, &std::path::Path)> {
        match (&self.cert, &self.key) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_then_lock() {
        let c = ConsoleConfig::default();
        assert_eq!(c.lock_for(1), None);
        assert_eq!(c.lock_for(2), None);
        assert_eq!(c.lock_for(3), Some(chrono::Duration::seconds(10)));
        assert_eq!(c.lock_for(4), Some(chrono::Duration::seconds(20)));
        assert_eq!(c.lock_for(5), Some(chrono::Duration::minutes(15)));
        assert_eq!(c.lock_for(50), Some(chrono::Duration::minutes(15)));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml_like("idle_timeout = 3").is_err());
        assert_eq!(toml_like("idle_timeout_min = 3").map(|c| c.idle_timeout_min), Ok(3));
    }

    fn toml_like(s: &str) -> Result<ConsoleConfig, String> {
        // The console crate does not depend on toml: a JSON object with the same keys.
        let (k, v) = s.split_once(" = ").ok_or("bad")?;
        serde_json::from_str(&format!("{{\"{k}\": {v}}}")).map_err(|e| e.to_string())
    }
}
