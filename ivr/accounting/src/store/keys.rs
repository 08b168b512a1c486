//! Storage of the per-day pseudonym keys. Shared through the database so that every instance
//! on the same PostgreSQL computes the same pseudonym for the same caller and day.

use chrono::NaiveDate;
use rand::RngCore;

use super::{day_text, on_pool, Store};
use crate::{Error, Result};

impl Store {
    /// The HMAC key of `day`, created (randomly, 32 bytes) by whichever instance asks first.
    pub(crate) async fn day_key(&self, day: NaiveDate, now_ms: i64) -> Result<[u8; 32]> {
        let d = day_text(day);
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        let fresh_hex = hex::encode(fresh);
        let row: (Option<String>,) = on_pool!(&self.pool, p => {
            sqlx::query("INSERT INTO day_keys (day, hmac_key, created_ms) VALUES ($1, $2, $3) ON CONFLICT (day) DO NOTHING")
                .bind(&d).bind(&fresh_hex).bind(now_ms).execute(p).await?;
            sqlx::query_as("SELECT hmac_key FROM day_keys WHERE day = $1").bind(&d).fetch_one(p).await?
        });
        let Some(k) = row.0 else {
            return Err(Error::KeyDestroyed(day));
        };
        let bytes = hex::decode(&k).map_err(|_| Error::Corrupt(format!("day key of {d}")))?;
        bytes.try_into().map_err(|_| Error::Corrupt(format!("day key of {d} has the wrong length")))
    }

    /// Destroys the key of `day` (kept as a tombstone so it is never created again).
    /// Returns whether a live key was destroyed.
    pub(crate) async fn destroy_day_key(&self, day: NaiveDate, now_ms: i64) -> Result<bool> {
        let d = day_text(day);
        let n = on_pool!(&self.pool, p => {
            // A day that never had a key gets a tombstone too: a late call cannot recreate it.
            sqlx::query("INSERT INTO day_keys (day, hmac_key, created_ms, destroyed_ms) VALUES ($1, NULL, $2, $2) ON CONFLICT (day) DO NOTHING")
                .bind(&d).bind(now_ms).execute(p).await?;
            sqlx::query("UPDATE day_keys SET hmac_key = NULL, destroyed_ms = $1 WHERE day = $2 AND hmac_key IS NOT NULL")
                .bind(now_ms).bind(&d).execute(p).await?.rows_affected()
        });
        Ok(n > 0)
    }
}
