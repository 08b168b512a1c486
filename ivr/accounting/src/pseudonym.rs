//! Same-day caller pseudonyms: HMAC-SHA256(key of the Paris day, E.164 number), hex.
//! The key is random, made on first use of the day, stored in the database (so instances
//! sharing PostgreSQL share it) and destroyed once the day is closed plus a grace period
//! (see `days::purge`). Once destroyed, nobody — the operator included — can link a
//! pseudonym back to a number by trying candidate numbers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::caller::{CallerNumber, E164};
use crate::event::Caller;
use crate::record::paris_day;
use crate::store::Store;
use crate::Result;

/// The pseudonym of `number` under `key`.
pub fn pseudonym(key: &[u8; 32], number: &E164) -> String {
    // new_from_slice only fails for key lengths HMAC cannot take; 32 bytes is always valid.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    mac.update(number.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Turns signalling identities into `Caller`s. Cheap to clone; caches the day keys it used.
#[derive(Clone)]
pub struct Pseudonymizer {
    store: Store,
    keys: Arc<Mutex<HashMap<NaiveDate, [u8; 32]>>>,
}

impl Pseudonymizer {
    pub fn new(store: Store) -> Pseudonymizer {
        Pseudonymizer { store, keys: Arc::default() }
    }

    /// The `Caller` of a call starting at `at`. One database round trip per day and instance;
    /// afterwards a pure computation.
    pub async fn caller(&self, number: &CallerNumber, at: DateTime<Utc>) -> Result<Caller> {
        let CallerNumber::Number(n) = number else {
            return Ok(Caller::Withheld);
        };
        let day = paris_day(at);
        let cached = self.keys.lock().ok().and_then(|k| k.get(&day).copied());
        let key = match cached {
            Some(k) => k,
            None => {
                let k = self.store.day_key(day, at.timestamp_millis()).await?;
                if let Ok(mut keys) = self.keys.lock() {
                    // Only the current day (and the previous one, for calls around midnight)
                    // are ever needed: older keys leave memory as soon as a new day starts.
                    keys.retain(|d, _| *d >= day.pred_opt().unwrap_or(day));
                    keys.insert(day, k);
                }
                k
            }
        };
        Ok(Caller::Pseudonym(pseudonym(&key, n)))
    }

    /// Forgets cached keys of `day` (called when it is destroyed).
    pub fn forget(&self, day: NaiveDate) {
        if let Ok(mut k) = self.keys.lock() {
            k.remove(&day);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::normalize_e164;

    #[test]
    fn same_number_same_key_same_pseudonym_and_keys_separate_days() {
        let a = normalize_e164("sip:0612345678@x").unwrap();
        let b = normalize_e164("tel:+33 6 12 34 56 78").unwrap();
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        assert_eq!(pseudonym(&k1, &a), pseudonym(&k1, &b));
        assert_ne!(pseudonym(&k1, &a), pseudonym(&k2, &a));
        let p = pseudonym(&k1, &a);
        assert_eq!(p.len(), 64);
        assert!(!p.contains("612345678"));
    }
}
