//! Console accounts and their sessions, in the accounting database so that every instance
//! sees the same users (DESIGN §9, §11).
//!
//! This module stores what it is given: the password hash (argon2id PHC string, made by the
//! console crate, never a clear-text password), the role, the failed-login counter and the
//! lock. Session tokens are stored as their SHA-256, so a copy of the database does not
//! give a usable session.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use crate::store::{on_pool, Store};
use crate::{Error, Result};

/// What an account may do in the console (least privilege: one role per account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Drafts content.
    Editor,
    /// Publishes and rolls back content.
    Publisher,
    /// Cnaf and contractor figures.
    Analyst,
    /// Live supervision, switches, call review, requests.
    Supervisor,
    /// Works the procedure request queue.
    Agent,
    /// Accounts and the audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] = [Role::Editor, Role::Publisher, Role::Analyst, Role::Supervisor, Role::Agent, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Editor => "editor",
            Role::Publisher => "publisher",
            Role::Analyst => "analyst",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A stored account (without its password hash: see [`Store::account_password_hash`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub failed_logins: u32,
    /// The account refuses logins until then (throttling, then temporary lock).
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// A live session: who, and the CSRF token of its forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account: Account,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
}

const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.role, a.disabled, a.failed_logins, a.locked_until_ms, a.created_ms, a.password_ms, a.last_login_ms";

fn at_ms(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| Error::Corrupt(format!("bad time {ms}")))
}

macro_rules! account_from_row {
    ($r:expr) => {{
        let r = $r;
        let role: String = r.try_get("role")?;
        let locked: i64 = r.try_get("locked_until_ms")?;
        let last: Option<i64> = r.try_get("last_login_ms")?;
        let failed: i64 = r.try_get("failed_logins")?;
        let disabled: i64 = r.try_get("disabled")?;
        Account {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            role: Role::parse(&role).ok_or_else(|| Error::Corrupt(format!("account role {role:?}")))?,
            disabled: disabled != 0,
            failed_logins: u32::try_from(failed).unwrap_or(u32::MAX),
            locked_until: if locked > 0 { Some(at_ms(locked)?) } else { None },
            created_at: at_ms(r.try_get("created_ms")?)?,
            password_changed_at: at_ms(r.try_get("password_ms")?)?,
            last_login_at: last.map(at_ms).transpose()?,
        }
    }};
}

/// SHA-256 of a session token, as stored.
pub fn token_digest(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Creates an account; None when the name is taken.
    pub async fn create_account(&self, name: &str, role: Role, password_hash: &str, now: DateTime<Utc>) -> Result<Option<i64>> {
        if self.account(name).await?.is_some() {
            return Ok(None);
        }
        let ms = now.timestamp_millis();
        let id: i64 = on_pool!(&self.pool, p => {
            sqlx::query("INSERT INTO console_accounts (name, role, password_hash, created_ms, password_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(name).bind(role.as_str()).bind(password_hash).bind(ms).bind(ms)
                .fetch_one(p).await?.try_get("id")?
        });
        Ok(Some(id))
    }

    /// The account named `name`.
    pub async fn account(&self, name: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM console_accounts a WHERE a.name = $1");
        on_pool!(&self.pool, p => {
            match sqlx::query(&sql).bind(name).fetch_optional(p).await? {
                Some(r) => Ok(Some(account_from_row!(&r))),
                None => Ok(None),
            }
        })
    }

    /// Every account, by name.
    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM console_accounts a ORDER BY a.name");
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(&sql).fetch_all(p).await?;
            rows.iter().map(|r| Ok(account_from_row!(r))).collect()
        })
    }

    /// The stored password hash of an account (to verify a login).
    pub async fn account_password_hash(&self, id: i64) -> Result<Option<String>> {
        on_pool!(&self.pool, p => {
            Ok(sqlx::query("SELECT password_hash FROM console_accounts WHERE id = $1").bind(id).fetch_optional(p).await?
                .map(|r| r.try_get::<String, _>("password_hash")).transpose()?)
        })
    }

    /// Replaces the password hash; also clears the lock and ends the account's sessions.
    pub async fn set_account_password(&self, name: &str, password_hash: &str, now: DateTime<Utc>) -> Result<bool> {
        let n = on_pool!(&self.pool, p => {
            sqlx::query("UPDATE console_accounts SET password_hash = $1, password_ms = $2, failed_logins = 0, locked_until_ms = 0 WHERE name = $3")
                .bind(password_hash).bind(now.timestamp_millis()).bind(name).execute(p).await?.rows_affected()
        });
        if n > 0 {
            self.end_sessions_of(name).await?;
        }
        Ok(n > 0)
    }

    /// Disables (or enables) an account; disabling ends its sessions.
    pub async fn set_account_disabled(&self, name: &str, disabled: bool) -> Result<bool> {
        let n = on_pool!(&self.pool, p => {
            sqlx::query("UPDATE console_accounts SET disabled = $1 WHERE name = $2")
                .bind(i64::from(disabled)).bind(name).execute(p).await?.rows_affected()
        });
        if n > 0 && disabled {
            self.end_sessions_of(name).await?;
        }
        Ok(n > 0)
    }

    /// Records a failed login: the counter goes up and the account is locked until
    /// `locked_until` (None: not locked). Returns the new counter.
    pub async fn record_failed_login(&self, id: i64, locked_until: impl Fn(u32) -> Option<DateTime<Utc>>) -> Result<u32> {
        let failed: i64 = on_pool!(&self.pool, p => {
            sqlx::query("UPDATE console_accounts SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins")
                .bind(id).fetch_one(p).await?.try_get("failed_logins")?
        });
        let failed = u32::try_from(failed).unwrap_or(u32::MAX);
        if let Some(until) = locked_until(failed) {
            on_pool!(&self.pool, p => {
                sqlx::query("UPDATE console_accounts SET locked_until_ms = $1 WHERE id = $2")
                    .bind(until.timestamp_millis()).bind(id).execute(p).await?.rows_affected()
            });
        }
        Ok(failed)
    }

    /// Records a successful login: counter and lock cleared.
    pub async fn record_login(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query("UPDATE console_accounts SET failed_logins = 0, locked_until_ms = 0, last_login_ms = $1 WHERE id = $2")
                .bind(now.timestamp_millis()).bind(id).execute(p).await?.rows_affected()
        });
        Ok(())
    }

    /// Opens a session for `account_id`; `token` is the cookie's secret (stored hashed).
    pub async fn create_session(&self, account_id: i64, token: &str, csrf: &str, now: DateTime<Utc>) -> Result<()> {
        let ms = now.timestamp_millis();
        on_pool!(&self.pool, p => {
            sqlx::query("INSERT INTO console_sessions (token_hash, account_id, csrf, created_ms, seen_ms) VALUES ($1, $2, $3, $4, $5)")
                .bind(token_digest(token)).bind(account_id).bind(csrf).bind(ms).bind(ms).execute(p).await?.rows_affected()
        });
        Ok(())
    }

    /// The session of `token` if it is still valid at `now` (seen within `idle`, made within
    /// `max_age`, account enabled); a valid session's last-seen time moves to `now`, an
    /// expired one is deleted.
    pub async fn touch_session(&self, token: &str, now: DateTime<Utc>, idle: chrono::Duration, max_age: chrono::Duration) -> Result<Option<Session>> {
        let digest = token_digest(token);
        let sql = format!("SELECT {ACCOUNT_COLUMNS}, s.csrf, s.created_ms AS s_created, s.seen_ms AS s_seen FROM console_sessions s JOIN console_accounts a ON a.id = s.account_id WHERE s.token_hash = $1");
        let found: Option<Session> = on_pool!(&self.pool, p => {
            match sqlx::query(&sql).bind(&digest).fetch_optional(p).await? {
                Some(r) => Some(Session {
                    account: account_from_row!(&r),
                    csrf: r.try_get("csrf")?,
                    created_at: at_ms(r.try_get("s_created")?)?,
                    seen_at: at_ms(r.try_get("s_seen")?)?,
                }),
                None => None,
            }
        });
        let Some(mut s) = found else { return Ok(None) };
        if s.account.disabled || now - s.seen_at > idle || now - s.created_at > max_age {
            self.end_session(token).await?;
            return Ok(None);
        }
        on_pool!(&self.pool, p => {
            sqlx::query("UPDATE console_sessions SET seen_ms = $1 WHERE token_hash = $2")
                .bind(now.timestamp_millis()).bind(&digest).execute(p).await?.rows_affected()
        });
        s.seen_at = now;
        Ok(Some(s))
    }

    /// Ends one session (logout).
    pub async fn end_session(&self, token: &str) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1").bind(token_digest(token)).execute(p).await?.rows_affected()
        });
        Ok(())
    }

    /// Ends every session of an account (password change, disable).
    pub async fn end_sessions_of(&self, name: &str) -> Result<u64> {
        let n = on_pool!(&self.pool, p => {
            sqlx::query("DELETE FROM console_sessions WHERE account_id IN (SELECT id FROM console_accounts WHERE name = $1)")
                .bind(name).execute(p).await?.rows_affected()
        });
        Ok(n)
    }

    /// Deletes sessions not seen since `before` (housekeeping).
    pub async fn purge_sessions(&self, before: DateTime<Utc>) -> Result<u64> {
        let n = on_pool!(&self.pool, p => {
            sqlx::query("DELETE FROM console_sessions WHERE seen_ms < $1").bind(before.timestamp_millis()).execute(p).await?.rows_affected()
        });
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_unknown_is_refused() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn token_digest_is_not_the_token() {
        let d = token_digest("abc");
        assert_eq!(d.len(), 64);
        assert_ne!(d, "abc");
        assert_eq!(d, token_digest("abc"));
    }
}
