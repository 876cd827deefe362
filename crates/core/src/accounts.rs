//! Account rules in one place (plain functions; `Control` turns their messages into errors): what a user name, an e-mail address and a password must look like,
//! and how passwords are hashed (Argon2id) and checked. The portal's sign-up, the admin API's
//! `user add` and every password change use these, so the rules cannot drift apart.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// A user name: 2-32 letters, digits, dots, dashes or underscores (it appears in URLs, audit lines
/// and notifications, so nothing that needs escaping).
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok = (2..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Err(format!(
            "name: {name:?} is not allowed; use 2-32 letters, digits, dots, dashes or underscores"
        ));
    }
    Ok(())
}

/// An address notifications can be sent to: one `@`, a dotted domain, no spaces, and one the
/// mail library accepts.
pub(crate) fn check_email(email: &str) -> Result<(), String> {
    let ok = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && crate::notify::smtp::check_address(email).is_ok();
    if !ok {
        return Err(format!("email: {email:?} is not an email address"));
    }
    Ok(())
}

/// At least 10 characters (a few words make a good one), at most 1024 (hashing cost).
pub(crate) fn check_password_rules(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if !(10..=1024).contains(&n) {
        return Err("password: use at least 10 characters (a few words make a good one)".into());
    }
    Ok(())
}

/// The Argon2id hash (PHC string) the registry stores; the error is a fault of the server.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash a password: {e}"))
}

pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Verified against when the account does not exist, so a login takes as long either way.
pub(crate) static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not a real password").unwrap_or_default());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_names() {
        for good in ["ana", "a.b-c_d", "Z9"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["a", "", "ana lee", "ana/..", "é", &"x".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn emails_and_passwords() {
        assert!(check_email("ana@club.example").is_ok());
        for bad in ["ana", "ana@club", "a na@club.example", "@club.example"] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        assert!(check_password_rules("short").is_err());
        let hash = hash_password("a long enough password").unwrap();
        assert!(verify_password("a long enough password", &hash));
        assert!(!verify_password("another long password", &hash));
    }
}
