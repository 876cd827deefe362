//! Secrets at rest: the key the server holds, sealing and opening secret values, and rotating the
//! key. Only this module (and `variables`, which stores what it seals) ever sees ciphertext; every
//! other caller gets plain values back from the registry.
//!
//! The cipher is XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`): an AEAD, so a changed or
//! swapped value fails to open instead of decrypting to garbage; its 24-byte nonces are long enough
//! to draw at random for every value without any real chance of a repeat (no counter to keep, so no
//! nonce reuse after a restore from backup, the misuse that breaks 12-byte-nonce AEADs); and it is
//! pure Rust, audited and widely used, needing no C toolchain or system library.
//!
//! Each sealed value is bound (as associated data) to where it is stored, `project_variables/<project
//! id>/<name>`, so a ciphertext copied into another row does not open. A check value in `meta`
//! sealed with the current key tells at open whether the key given is the registry's.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::{Registry, RegistryError, Result, audit};

/// Format byte in front of every sealed value, so a later cipher can be told apart.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
/// The plain text of the key check in `meta`, and where it is bound.
const CHECK_PLAIN: &[u8] = b"clubhost secret key check";
const CHECK_AAD: &str = "meta/secret_key_check";

/// A 256-bit key for secrets at rest. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> SecretKey {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source failed");
        SecretKey(key)
    }

    /// The key as a key file holds it: 64 hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads a key file's text: 64 hex digits, surrounding whitespace ignored.
    pub fn from_hex(text: &str) -> std::result::Result<SecretKey, String> {
        let t = text.trim();
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "a secret key is 64 hex digits (32 bytes); found {} characters",
                t.len()
            ));
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(SecretKey(key))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }

    /// `VERSION || nonce || ciphertext+tag`, with a fresh random nonce, bound to `aad`.
    pub(crate) fn seal(&self, plain: &[u8], aad: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random source failed");
        let sealed = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory values");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`SecretKey::seal`] made for the same `aad`; an error names `aad`.
    pub(crate) fn open(&self, sealed: &[u8], aad: &str) -> Result<Vec<u8>> {
        let bad = || RegistryError::Secret(format!("{aad}: cannot decrypt (wrong key or damaged)"));
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(bad());
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| bad())?;
        self.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| bad())
    }
}

/// Where a project variable's sealed value is bound.
pub(crate) fn variable_aad(project_id: i64, name: &str) -> String {
    format!("project_variables/{project_id}/{name}")
}

/// Run at every open, in one transaction: checks `key` against the registry's key check (writing
/// one if there is none yet) and seals any secret still stored in plain text (a registry from
/// before encryption). Returns how many values it sealed.
pub(crate) async fn prepare(pool: &sqlx::SqlitePool, key: &SecretKey) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let check: Option<(Vec<u8>,)> =
        sqlx::query_as("SELECT CAST(value AS BLOB) FROM meta WHERE key = 'secret_key_check'")
            .fetch_optional(&mut *tx)
            .await?;
    match check {
        Some((sealed,)) => {
            key.open(&sealed, CHECK_AAD)
                .map_err(|_| RegistryError::WrongKey)?;
        }
        None => {
            sqlx::query("INSERT INTO meta (key, value) VALUES ('secret_key_check', ?)")
                .bind(key.seal(CHECK_PLAIN, CHECK_AAD))
                .execute(&mut *tx)
                .await?;
        }
    }
    let plain: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT project_id, name, value FROM project_variables \
         WHERE secret = 1 AND sealed IS NULL",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (project, name, value) in &plain {
        let sealed = key.seal(value.as_bytes(), &variable_aad(*project, name));
        sqlx::query(
            "UPDATE project_variables SET value = '', sealed = ? WHERE project_id = ? AND name = ?",
        )
        .bind(sealed)
        .bind(project)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    }
    // Webhook secrets from before migration 0012, too.
    let hooks = crate::sources::seal_plain_in(&mut tx, key).await?;
    if !plain.is_empty() || hooks > 0 {
        audit(
            &mut tx,
            "clubhost",
            None,
            "secrets.seal",
            None,
            None,
            &format!(
                "{} secret variable(s) and {hooks} webhook secret(s) stored in plain text \
                 encrypted",
                plain.len()
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(plain.len() as u64 + hooks)
}

impl Registry {
    /// The key secrets are sealed with right now. Writers of secrets hold this guard until their
    /// transaction commits, so a rotation (which takes the write side) never interleaves with them.
    pub(crate) async fn key(&self) -> tokio::sync::RwLockReadGuard<'_, SecretKey> {
        self.key.read().await
    }

    /// Re-encrypts every secret (and the key check) with `new`, in one transaction, and from then
    /// on uses `new`. Audited (never a value). Returns how many secrets were re-encrypted. The
    /// caller keeps `new` somewhere safe *before* calling: once this commits, only `new` opens them.
    pub async fn rotate_key(&self, new: SecretKey, actor: &str) -> Result<u64> {
        let mut current = self.key.write().await;
        let count = rotate_in(&self.pool, &current, &new, actor).await?;
        *current = new;
        Ok(count)
    }
}

async fn rotate_in(
    pool: &sqlx::SqlitePool,
    old: &SecretKey,
    new: &SecretKey,
    actor: &str,
) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let rows: Vec<(i64, String, Vec<u8>)> = sqlx::query_as(
        "SELECT project_id, name, sealed FROM project_variables WHERE sealed IS NOT NULL",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (project, name, sealed) in &rows {
        let aad = variable_aad(*project, name);
        let plain = old.open(sealed, &aad)?;
        sqlx::query("UPDATE project_variables SET sealed = ? WHERE project_id = ? AND name = ?")
            .bind(new.seal(&plain, &aad))
            .bind(project)
            .bind(name)
            .execute(&mut *tx)
            .await?;
    }
    // Certificates' keys and the ACME account are sealed with the same key.
    let tls = crate::certs::rotate_in(&mut tx, old, new).await?;
    let hooks = crate::sources::rotate_in(&mut tx, old, new).await?;
    sqlx::query("UPDATE meta SET value = ? WHERE key = 'secret_key_check'")
        .bind(new.seal(CHECK_PLAIN, CHECK_AAD))
        .execute(&mut *tx)
        .await?;
    let what = format!(
        "{} secret(s), {hooks} webhook secret(s) and {tls} TLS key(s) re-encrypted with a new key",
        rows.len()
    );
    audit(
        &mut tx,
        actor,
        None,
        "secrets.rotate_key",
        None,
        None,
        &what,
    )
    .await?;
    tx.commit().await?;
    Ok(rows.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_place() {
        let key = SecretKey::generate();
        let sealed = key.seal(b"hunter2", "project_variables/1/PW");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(
            key.open(&sealed, "project_variables/1/PW").unwrap(),
            b"hunter2"
        );
        // Another row, another key, a flipped bit: all refused.
        assert!(key.open(&sealed, "project_variables/2/PW").is_err());
        assert!(
            SecretKey::generate()
                .open(&sealed, "project_variables/1/PW")
                .is_err()
        );
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(key.open(&flipped, "project_variables/1/PW").is_err());
        // Two seals of one value differ (fresh nonces).
        assert_ne!(sealed, key.seal(b"hunter2", "project_variables/1/PW"));
    }

    #[test]
    fn key_files_round_trip_and_bad_ones_are_named() {
        let key = SecretKey::generate();
        let again = SecretKey::from_hex(&format!("{}\n", key.to_hex())).unwrap();
        assert_eq!(again.0, key.0);
        let err = SecretKey::from_hex("abc").unwrap_err();
        assert!(err.contains("64 hex digits"), "{err}");
        assert!(SecretKey::from_hex(&"zz".repeat(32)).is_err());
        assert_eq!(format!("{key:?}"), "SecretKey(..)");
    }
}
