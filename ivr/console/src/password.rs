//! Password rules and hashing (CNIL deliberation 2022-100).
//!
//! The rule implemented, one of the deliberation's examples for a password alone
//! (about 80 bits of entropy):
//! - at least 12 characters with upper case, lower case, a digit and a special character; or
//! - at least 14 characters with upper case, lower case and a digit; or
//! - a passphrase of at least 20 characters;
//! - in every case at most 128 characters, and not containing the account name.
//!
//! Hashes are argon2id (m = 19 MiB, t = 2, p = 1: the OWASP setting) in PHC string form,
//! with a random salt. No clear-text password is stored, logged or shown, and there is no
//! password hint.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub const MIN_LEN: usize = 12;
pub const MIN_LEN_NO_SPECIAL: usize = 14;
pub const MIN_LEN_PASSPHRASE: usize = 20;
pub const MAX_LEN: usize = 128;

/// Why a new password is refused (the message is shown to its owner, in French).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("le mot de passe doit comporter au moins 12 caractères (majuscule, minuscule, chiffre et caractère spécial), 14 sans caractère spécial, ou être une phrase de passe d'au moins 20 caractères")]
    TooWeak,
    #[error("le mot de passe ne doit pas dépasser 128 caractères")]
    TooLong,
    #[error("le mot de passe ne doit pas contenir l'identifiant")]
    ContainsName,
    #[error("les deux saisies du mot de passe diffèrent")]
    Mismatch,
}

/// Checks a new password against the rule above.
pub fn check(name: &str, password: &str) -> Result<(), PasswordError> {
    let len = password.chars().count();
    if len > MAX_LEN {
        return Err(PasswordError::TooLong);
    }
    let lower = password.chars().any(char::is_lowercase);
    let upper = password.chars().any(char::is_uppercase);
    let digit = password.chars().any(|c| c.is_ascii_digit());
    let special = password.chars().any(|c| !c.is_alphanumeric());
    let strong = (len >= MIN_LEN && lower && upper && digit && special) || (len >= MIN_LEN_NO_SPECIAL && lower && upper && digit) || len >= MIN_LEN_PASSPHRASE;
    if !strong {
        return Err(PasswordError::TooWeak);
    }
    let name = name.trim().to_lowercase();
    if name.chars().count() >= 3 && password.to_lowercase().contains(&name) {
        return Err(PasswordError::ContainsName);
    }
    Ok(())
}

/// argon2id PHC string of `password` with a fresh salt.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Whether `password` matches the stored hash. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(h) => Argon2::default().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so that an unknown name takes
/// as long as a wrong password (no account enumeration by timing).
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("dummy-password-never-matches-0A!").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cnil_rule() {
        // 12 with the four classes.
        assert_eq!(check("alice", "Abcdef1234!x"), Ok(()));
        // 11 characters: too short even with the four classes.
        assert_eq!(check("alice", "Abcdef123!x"), Err(PasswordError::TooWeak));
        // 12 without a special character: needs 14.
        assert_eq!(check("alice", "Abcdef123456"), Err(PasswordError::TooWeak));
        assert_eq!(check("alice", "Abcdef12345678"), Ok(()));
        // Missing a digit or a case.
        assert_eq!(check("alice", "abcdefgh!jkl"), Err(PasswordError::TooWeak));
        assert_eq!(check("alice", "ABCDEF1234!X"), Err(PasswordError::TooWeak));
        // A long passphrase without classes.
        assert_eq!(check("alice", "cheval pomme bateau nuage"), Ok(()));
        assert_eq!(check("alice", "cheval pomme bateau"), Err(PasswordError::TooWeak));
        // The account name inside, any case.
        assert_eq!(check("alice", "xxAlice1234!yy"), Err(PasswordError::ContainsName));
        // Too long.
        assert_eq!(check("alice", &"a".repeat(129)), Err(PasswordError::TooLong));
        // Accented letters count as letters.
        assert_eq!(check("bob", "Été2026!cafés"), Ok(()));
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let h = hash("Abcdef1234!x").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("Abcdef1234!x"));
        assert_ne!(h, hash("Abcdef1234!x").unwrap(), "salted");
        assert!(verify("Abcdef1234!x", &h));
        assert!(!verify("Abcdef1234!y", &h));
        assert!(!verify("Abcdef1234!x", "not a hash"));
        assert!(!verify("anything", dummy_hash()));
    }
}
