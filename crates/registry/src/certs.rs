//! HTTPS certificates and the ACME account, kept so a restart serves what it had and orders
//! nothing new (issue 16). Private keys are sealed with the registry's key like secret variables
//! ([`crate::secrets`]), each bound to its row, and opened only here; `Debug` never shows them.

use std::fmt;

use serde::Serialize;
use sqlx::FromRow;

use super::{Registry, Result, audit};
use crate::outbox::{self, Note};

/// Where an ACME account's sealed credentials are bound.
pub(crate) fn account_aad(directory: &str) -> String {
    format!("acme_accounts/{directory}")
}

/// Where a certificate's sealed private key is bound.
pub(crate) fn cert_aad(name: &str) -> String {
    format!("certificates/{name}")
}

/// What is known of one name's certificate, without its key: for listings, `doctor` and metrics.
#[derive(Debug, Clone, Serialize, FromRow, PartialEq, Eq)]
pub struct CertInfo {
    /// The DNS name.
    pub name: String,
    /// The issuer's common name (or whole name), empty before the first issuance.
    pub issuer: String,
    /// Validity start, seconds since the epoch.
    pub not_before: Option<i64>,
    /// Expiry, seconds since the epoch; `None` before the first issuance.
    pub not_after: Option<i64>,
    /// The last issuance or renewal.
    pub issued_at: Option<i64>,
    /// When the next renewal is due.
    pub renew_at: Option<i64>,
    /// Why the last order failed; `None` after a success.
    pub last_error: Option<String>,
    /// When the last order failed.
    pub last_failure_at: Option<i64>,
}

/// A certificate as served: its chain and private key (PEM), and what is known of it.
#[derive(Clone)]
pub struct StoredCert {
    /// Name, issuer, dates.
    pub info: CertInfo,
    /// The chain, leaf first.
    pub chain_pem: String,
    /// The leaf's private key.
    pub key_pem: String,
}

impl fmt::Debug for StoredCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCert")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// A certificate just issued, to be stored.
pub struct NewCert<'a> {
    /// The DNS name.
    pub name: &'a str,
    /// The chain, leaf first.
    pub chain_pem: &'a str,
    /// The leaf's private key.
    pub key_pem: &'a str,
    /// The issuer's name.
    pub issuer: &'a str,
    /// Validity start and end, seconds since the epoch.
    pub not_before: i64,
    /// Expiry.
    pub not_after: i64,
    /// When to renew.
    pub renew_at: i64,
}

const INFO_COLUMNS: &str = "name, issuer, not_before, not_after, issued_at, renew_at, last_error, \
                            last_failure_at";

impl Registry {
    /// The ACME account's credentials (JSON) for `directory`, opened; `None` before the first
    /// order.
    pub async fn acme_account(&self, directory: &str) -> Result<Option<String>> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT sealed FROM acme_accounts WHERE directory = ?")
                .bind(directory)
                .fetch_optional(&self.pool)
                .await?;
        let Some((sealed,)) = row else {
            return Ok(None);
        };
        let key = self.key().await;
        let plain = key.open(&sealed, &account_aad(directory))?;
        Ok(Some(String::from_utf8_lossy(&plain).into_owned()))
    }

    /// Stores the ACME account's credentials (JSON) for `directory`, sealed.
    pub async fn save_acme_account(&self, directory: &str, credentials: &str) -> Result<()> {
        let key = self.key().await;
        sqlx::query(
            "INSERT INTO acme_accounts (directory, sealed, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (directory) DO UPDATE SET sealed = excluded.sealed",
        )
        .bind(directory)
        .bind(key.seal(credentials.as_bytes(), &account_aad(directory)))
        .bind(crate::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every name's certificate state, issued or not, by name.
    pub async fn cert_infos(&self) -> Result<Vec<CertInfo>> {
        let sql = format!("SELECT {INFO_COLUMNS} FROM certificates ORDER BY name");
        Ok(sqlx::query_as::<_, CertInfo>(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Every issued certificate with its key opened, to serve at start.
    pub async fn stored_certs(&self) -> Result<Vec<StoredCert>> {
        let infos = self.cert_infos().await?;
        let rows: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT name, chain_pem, key_sealed FROM certificates \
             WHERE chain_pem IS NOT NULL AND key_sealed IS NOT NULL ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let key = self.key().await;
        let mut out = Vec::with_capacity(rows.len());
        for (name, chain_pem, sealed) in rows {
            let plain = key.open(&sealed, &cert_aad(&name))?;
            let Some(info) = infos.iter().find(|i| i.name == name).cloned() else {
                continue;
            };
            out.push(StoredCert {
                info,
                chain_pem,
                key_pem: String::from_utf8_lossy(&plain).into_owned(),
            });
        }
        Ok(out)
    }

    /// Stores a certificate just issued for `cert.name` (replacing the one it renews), clears
    /// its last error, and audits the issuance (never the key).
    pub async fn save_cert(&self, cert: &NewCert<'_>) -> Result<()> {
        let key = self.key().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO certificates (name, chain_pem, key_sealed, issuer, not_before, not_after, \
             issued_at, renew_at, last_error, last_failure_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL) \
             ON CONFLICT (name) DO UPDATE SET chain_pem = ?2, key_sealed = ?3, issuer = ?4, \
             not_before = ?5, not_after = ?6, issued_at = ?7, renew_at = ?8, last_error = NULL, \
             last_failure_at = NULL, failure_notified_at = NULL",
        )
        .bind(cert.name)
        .bind(cert.chain_pem)
        .bind(key.seal(cert.key_pem.as_bytes(), &cert_aad(cert.name)))
        .bind(cert.issuer)
        .bind(cert.not_before)
        .bind(cert.not_after)
        .bind(crate::now())
        .bind(cert.renew_at)
        .execute(&mut *tx)
        .await?;
        let what = format!("certificate for {} issued by {}", cert.name, cert.issuer);
        audit(&mut tx, "acme", None, "tls.issue", None, None, &what).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed order for `name` (its certificate, if any, stays as it was). `notes`
    /// (the admins told) are stored in the same transaction only for the first failure of a
    /// streak (the next issuance ends it); returns whether they were.
    pub async fn record_cert_failure(
        &self,
        name: &str,
        error: &str,
        notes: &[Note],
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let now = crate::now();
        let told: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT failure_notified_at FROM certificates WHERE name = ?")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let first = !matches!(told, Some((Some(_),)));
        let notes = if first { notes } else { &[] };
        let notified = (!notes.is_empty()).then_some(now);
        sqlx::query(
            "INSERT INTO certificates (name, last_error, last_failure_at, failure_notified_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET last_error = ?2, \
             last_failure_at = ?3, failure_notified_at = COALESCE(failure_notified_at, ?4)",
        )
        .bind(name)
        .bind(error)
        .bind(now)
        .bind(notified)
        .execute(&mut *tx)
        .await?;
        outbox::insert(&mut tx, notes).await?;
        tx.commit().await?;
        self.notes_committed(notes.len());
        Ok(!notes.is_empty())
    }

    /// Forgets `name`'s certificate and its state (its project or domain is gone); audited as
    /// `tls.remove`. Nothing to forget is no error.
    pub async fn remove_cert(&self, name: &str, why: &str) -> Result<()> {
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM certificates WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            let what = format!("certificate for {name} removed: {why}");
            audit(&mut tx, "acme", None, "tls.remove", None, None, &what).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Re-seals every sealed value of this module with `new` (a key rotation), inside its
/// transaction.
pub(crate) async fn rotate_in(
    tx: &mut sqlx::SqliteConnection,
    old: &crate::SecretKey,
    new: &crate::SecretKey,
) -> Result<u64> {
    let accounts: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT directory, sealed FROM acme_accounts")
            .fetch_all(&mut *tx)
            .await?;
    for (directory, sealed) in &accounts {
        let aad = account_aad(directory);
        let plain = old.open(sealed, &aad)?;
        sqlx::query("UPDATE acme_accounts SET sealed = ? WHERE directory = ?")
            .bind(new.seal(&plain, &aad))
            .bind(directory)
            .execute(&mut *tx)
            .await?;
    }
    let certs: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT name, key_sealed FROM certificates WHERE key_sealed IS NOT NULL")
            .fetch_all(&mut *tx)
            .await?;
    for (name, sealed) in &certs {
        let aad = cert_aad(name);
        let plain = old.open(sealed, &aad)?;
        sqlx::query("UPDATE certificates SET key_sealed = ? WHERE name = ?")
            .bind(new.seal(&plain, &aad))
            .bind(name)
            .execute(&mut *tx)
            .await?;
    }
    Ok((accounts.len() + certs.len()) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn registry() -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(&dir.path().join("r.db"), crate::SecretKey::generate())
            .await
            .unwrap();
        (dir, r)
    }

    #[tokio::test]
    async fn certificates_and_account_are_kept_sealed_and_rotate() {
        let (dir, r) = registry().await;
        assert_eq!(r.acme_account("https://acme.test/dir").await.unwrap(), None);
        r.save_acme_account("https://acme.test/dir", "{\"id\":\"acct\"}")
            .await
            .unwrap();
        let note = Note::admins("", "failed".into(), "refused".into());
        assert!(
            r.record_cert_failure("club.example", "refused", std::slice::from_ref(&note))
                .await
                .unwrap(),
            "the first failure tells the admins"
        );
        assert!(
            !r.record_cert_failure("club.example", "refused again", std::slice::from_ref(&note))
                .await
                .unwrap(),
            "not twice in one streak"
        );
        let infos = r.cert_infos().await.unwrap();
        assert_eq!(infos[0].last_error.as_deref(), Some("refused again"));
        assert_eq!(
            r.pending_notes(0).await.unwrap().len(),
            1,
            "one note stored"
        );
        assert!(
            r.stored_certs().await.unwrap().is_empty(),
            "nothing issued yet"
        );
        r.save_cert(&NewCert {
            name: "club.example",
            chain_pem: "CHAIN",
            key_pem: "PRIVATE-KEY-PEM",
            issuer: "Test CA",
            not_before: 1,
            not_after: 100,
            renew_at: 60,
        })
        .await
        .unwrap();
        let stored = r.stored_certs().await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].key_pem, "PRIVATE-KEY-PEM");
        assert_eq!(
            stored[0].info.last_error, None,
            "a success clears the error"
        );
        assert!(!format!("{stored:?}").contains("PRIVATE-KEY-PEM"));
        // Neither the key nor the account's credentials are in the file in plain text.
        let bytes = std::fs::read(dir.path().join("r.db")).unwrap();
        let wal = std::fs::read(dir.path().join("r.db-wal")).unwrap_or_default();
        for b in [&bytes, &wal] {
            assert!(!b.windows(15).any(|w| w == b"PRIVATE-KEY-PEM"));
            assert!(!b.windows(13).any(|w| w == b"{\"id\":\"acct\"}"));
        }
        r.rotate_key(crate::SecretKey::generate(), "test")
            .await
            .unwrap();
        assert_eq!(
            r.stored_certs().await.unwrap()[0].key_pem,
            "PRIVATE-KEY-PEM"
        );
        assert_eq!(
            r.acme_account("https://acme.test/dir")
                .await
                .unwrap()
                .as_deref(),
            Some("{\"id\":\"acct\"}")
        );
        assert!(
            r.audit_log(None)
                .await
                .unwrap()
                .iter()
                .any(|e| e.action == "tls.issue")
        );
        // The issuance ended the streak: the next failure tells the admins again.
        assert!(
            r.record_cert_failure("club.example", "refused", &[note])
                .await
                .unwrap()
        );
        r.remove_cert("club.example", "gone").await.unwrap();
        assert!(r.cert_infos().await.unwrap().is_empty());
        assert!(r.stored_certs().await.unwrap().is_empty());
    }
}
