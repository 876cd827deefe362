//! The portal's session store and login-attempt log, both in SQLite so sessions survive a restart
//! and throttling holds across them. The log is counted per account *and* address (the pair's
//! failures since its last success) and per address, so throttling can slow a guesser without
//! slowing the account's owner at their own address.

use super::{Result, User, audit, now};

/// A live session: who it belongs to and its CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    /// The logged-in account (never a disabled one: those sessions are not returned).
    pub user: User,
    /// Token the portal's forms must echo back, checked on every state-changing request.
    pub csrf: String,
    /// SHA-256 (hex) of the session cookie's token; the token itself is never stored.
    pub token_hash: String,
}

impl super::Registry {
    /// Stores a new session for `user_id`, valid for `lifetime_secs` from now, and sweeps expired
    /// ones.
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        lifetime_secs: i64,
    ) -> Result<()> {
        let t = now();
        // Expired sessions are swept whenever a new one starts, so the table stays small.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(t)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(t)
        .bind(t + lifetime_secs)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session for a token hash, if it exists, has not expired and its user is not disabled.
    pub async fn session(&self, token_hash: &str) -> Result<Option<Session>> {
        let row: Option<super::accounts::UserRow<String>> = sqlx::query_as(
            "SELECT u.id, u.name, u.email, u.is_admin, u.disabled, u.created_at, s.csrf \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0",
        )
        .bind(token_hash)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id, name, email, is_admin, disabled, created_at, csrf)| Session {
                user: User {
                    id,
                    name,
                    email,
                    is_admin,
                    disabled,
                    created_at,
                },
                csrf,
                token_hash: token_hash.to_string(),
            },
        ))
    }

    /// Ends a session (logout) and audits it as `actor`'s `user.logout`, with `detail` (where
    /// from) as the reason.
    pub async fn end_session(&self, token_hash: &str, actor: &str, detail: &str) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, actor, None, "user.logout", None, None, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts a login attempt for throttling and audits it in the same transaction, as
    /// `user.login` or `user.login_failed` by `actor` (the account, or the name typed when there
    /// is none) with `detail` (where from, and why it failed) as the reason.
    pub async fn record_login_attempt(
        &self,
        account: &str,
        address: &str,
        ok: bool,
        actor: &str,
        detail: &str,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO login_attempts (account, address, at, ok) VALUES (?, ?, ?, ?)")
            .bind(account.to_lowercase())
            .bind(address)
            .bind(now())
            .bind(ok)
            .execute(&mut *tx)
            .await?;
        let action = if ok {
            "user.login"
        } else {
            "user.login_failed"
        };
        audit(&mut tx, actor, None, action, None, None, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Failed logins in the last `window_secs` that throttling weighs: for this account from this
    /// address since the pair's last successful login, and from this address for any account
    /// (empty `address`: none), each with the time of the latest one.
    pub async fn login_failures(
        &self,
        account: &str,
        address: &str,
        window_secs: i64,
    ) -> Result<LoginFailures> {
        let since = now() - window_secs;
        let account = account.to_lowercase();
        let (pair, pair_last): (i64, Option<i64>) = sqlx::query_as(
            // "After the last success" goes by row id, not by `at`: times are whole seconds,
            // and a failure in the same second as a success must still count.
            "SELECT COUNT(*), MAX(at) FROM login_attempts \
             WHERE account = ?1 AND address = ?2 AND ok = 0 AND at > ?3 AND id > COALESCE( \
               (SELECT MAX(id) FROM login_attempts WHERE account = ?1 AND address = ?2 AND ok = 1), \
               0)",
        )
        .bind(&account)
        .bind(address)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        let (by_address, address_last): (i64, Option<i64>) = if address.is_empty() {
            (0, None)
        } else {
            sqlx::query_as(
                "SELECT COUNT(*), MAX(at) FROM login_attempts WHERE address = ? AND at > ? AND ok = 0",
            )
            .bind(address)
            .bind(since)
            .fetch_one(&self.pool)
            .await?
        };
        // The account from everywhere: failures from addresses that never logged into it (a
        // botnet spreads its guesses over many), and whether this address ever did.
        let (stranger, stranger_last, trusted): (i64, Option<i64>, bool) = sqlx::query_as(
            "SELECT COUNT(*), MAX(f.at), \
               EXISTS (SELECT 1 FROM login_attempts WHERE account = ?1 AND address = ?2 AND ok = 1) \
             FROM login_attempts f WHERE f.account = ?1 AND f.ok = 0 AND f.at > ?3 \
             AND NOT EXISTS (SELECT 1 FROM login_attempts s \
                             WHERE s.account = ?1 AND s.address = f.address AND s.ok = 1)",
        )
        .bind(&account)
        .bind(address)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(LoginFailures {
            pair,
            pair_last,
            by_address,
            address_last,
            by_strangers: stranger,
            strangers_last: stranger_last,
            address_trusted: trusted,
        })
    }
}

/// What [`super::Registry::login_failures`] counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    /// Failures for the account from the address since that pair's last success.
    pub pair: i64,
    /// When the latest of them was (seconds since the epoch).
    pub pair_last: Option<i64>,
    /// Failures from the address, any account.
    pub by_address: i64,
    /// When the latest of them was.
    pub address_last: Option<i64>,
    /// Failures for the account from every address that never logged into it successfully.
    pub by_strangers: i64,
    /// When the latest of them was.
    pub strangers_last: Option<i64>,
    /// Whether this address has ever logged into the account successfully (then others'
    /// failures never slow it).
    pub address_trusted: bool,
}

#[cfg(test)]
mod tests {
    use crate::{Registry, SecretKey};

    /// A failure in the same whole second as the pair's last success still counts (CI logged in,
    /// out and failed within one second, and the owner's first failure went uncounted).
    #[tokio::test]
    async fn a_failure_in_the_same_second_as_a_success_counts() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("r.db"), SecretKey::generate())
            .await
            .unwrap();
        let at = crate::now();
        for ok in [0, 1, 0, 0] {
            sqlx::query(
                "INSERT INTO login_attempts (account, address, at, ok) VALUES ('boss', '127.0.0.1', ?, ?)",
            )
            .bind(at)
            .bind(ok)
            .execute(&reg.pool)
            .await
            .unwrap();
        }
        let counted = reg.login_failures("Boss", "127.0.0.1", 3600).await.unwrap();
        assert_eq!(
            counted.pair, 2,
            "only the failures after the success: {counted:?}"
        );
        assert_eq!(counted.pair_last, Some(at));
        assert_eq!(counted.by_address, 3);
        let elsewhere = reg.login_failures("boss", "127.0.0.2", 3600).await.unwrap();
        assert_eq!((elsewhere.pair, elsewhere.by_address), (0, 0));
        // 127.0.0.1 logged in once: its failures are not a stranger's, and it is trusted.
        assert!(counted.address_trusted && !elsewhere.address_trusted);
        assert_eq!((counted.by_strangers, elsewhere.by_strangers), (0, 0));
    }

    /// Failures from many addresses that never logged in add up per account; one that did is
    /// trusted and its own failures are not counted as a stranger's.
    #[tokio::test]
    async fn strangers_failures_add_up_across_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("r.db"), SecretKey::generate())
            .await
            .unwrap();
        let at = crate::now();
        let mut rows = vec![("10.0.0.9", 1), ("10.0.0.9", 0), ("other", 0)];
        for i in 0..30 {
            rows.push((["10.1.0.1", "10.1.0.2", "10.1.0.3"][i % 3], 0));
        }
        for (address, ok) in rows {
            let account = if address == "other" { "cy" } else { "boss" };
            sqlx::query(
                "INSERT INTO login_attempts (account, address, at, ok) VALUES (?, ?, ?, ?)",
            )
            .bind(account)
            .bind(address)
            .bind(at)
            .bind(ok)
            .execute(&reg.pool)
            .await
            .unwrap();
        }
        let owner = reg.login_failures("boss", "10.0.0.9", 3600).await.unwrap();
        assert!(owner.address_trusted);
        assert_eq!((owner.pair, owner.by_strangers), (1, 30), "{owner:?}");
        let new = reg.login_failures("boss", "10.2.0.1", 3600).await.unwrap();
        assert!(!new.address_trusted);
        assert_eq!((new.by_strangers, new.strangers_last), (30, Some(at)));
        // Old failures fall out of the window.
        let later = reg.login_failures("boss", "10.2.0.1", 0).await.unwrap();
        assert_eq!(later.by_strangers, 0);
    }
}
