//! Accounts for the portal: sign-up, password hashes, roles, and the member-facing project queries
//! (a member's own projects, a project's source link, the filtered audit log).
//!
//! Password hashing itself lives in `portal::auth`; the registry only stores the PHC string.

use super::{AuditEntry, PROJECT_SELECT, Project, RegistryError, Result, User, audit, now};

/// A user together with the stored password hash, for checking a login.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The account, as every other query returns it.
    pub user: User,
    /// `None` for accounts made by the CLI that never set a password: they cannot log in.
    pub password_hash: Option<String>,
}

impl super::Registry {
    /// Creates a member account with a password (the portal's sign-up). Name and email must be new.
    pub async fn create_account(
        &self,
        name: &str,
        email: &str,
        password_hash: &str,
    ) -> Result<User> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (name, email, password_hash, is_admin, created_at) \
             VALUES (?, ?, ?, 0, ?)",
        )
        .bind(name)
        .bind(email)
        .bind(password_hash)
        .bind(now())
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            if super::is_unique_violation(&e) {
                let what = if e.to_string().contains("email") {
                    format!("email: {email:?} already has an account")
                } else {
                    format!("name: {name:?} is already taken")
                };
                return Err(RegistryError::Conflict(what));
            }
            return Err(e.into());
        }
        audit(&mut tx, name, None, "user.signup", None, None, "").await?;
        tx.commit().await?;
        self.user(name).await
    }

    /// Looks an account up by name or email (case-insensitive for email), with its hash.
    pub async fn credentials(&self, login: &str) -> Result<Option<Credentials>> {
        let row: Option<UserRow<Option<String>>> = sqlx::query_as(
            "SELECT id, name, email, is_admin, disabled, created_at, password_hash FROM users \
                 WHERE name = ?1 OR (email IS NOT NULL AND lower(email) = lower(?1)) \
                 ORDER BY name = ?1 DESC LIMIT 1",
        )
        .bind(login)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id, name, email, is_admin, disabled, created_at, password_hash)| Credentials {
                user: User {
                    id,
                    name,
                    email,
                    is_admin,
                    disabled,
                    created_at,
                },
                password_hash,
            },
        ))
    }

    /// Replaces a user's password hash and ends all their sessions (a stolen cookie dies with the
    /// old password).
    pub async fn set_password(&self, name: &str, password_hash: &str, actor: &str) -> Result<()> {
        let mut tx = self.write().await?;
        let res = sqlx::query("UPDATE users SET password_hash = ? WHERE name = ?")
            .bind(password_hash)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if res.rows_affected() == 0 {
            return Err(RegistryError::NotFound(format!("user {name:?}")));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?)")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, actor, None, "user.password", None, None, name).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the language (`en`, `ko`) the account last chose in the portal (migration 0015),
    /// for the notes it gets. Not audited: a preference, like a cookie. Unknown accounts are
    /// ignored (an account deleted meanwhile).
    pub async fn set_user_language(&self, name: &str, language: &str) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE users SET language = ? WHERE name = ? AND language IS NOT ?")
            .bind(language)
            .bind(name)
            .bind(language)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The language the account last chose, if it ever did.
    pub async fn user_language(&self, name: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar::<_, Option<String>>("SELECT language FROM users WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
                .flatten(),
        )
    }

    /// Promotes/demotes (`is_admin`) or disables/enables (`disabled`) an account, audited. Disabling
    /// also ends the account's sessions.
    pub async fn set_user_flag(
        &self,
        name: &str,
        flag: UserFlag,
        value: bool,
        actor: &str,
    ) -> Result<User> {
        let (sql, action) = match (flag, value) {
            (UserFlag::Admin, true) => ("UPDATE users SET is_admin = 1 WHERE name = ?", "promote"),
            (UserFlag::Admin, false) => ("UPDATE users SET is_admin = 0 WHERE name = ?", "demote"),
            (UserFlag::Disabled, true) => {
                ("UPDATE users SET disabled = 1 WHERE name = ?", "disable")
            }
            (UserFlag::Disabled, false) => {
                ("UPDATE users SET disabled = 0 WHERE name = ?", "enable")
            }
        };
        let mut tx = self.write().await?;
        let res = sqlx::query(sql).bind(name).execute(&mut *tx).await?;
        if res.rows_affected() == 0 {
            return Err(RegistryError::NotFound(format!("user {name:?}")));
        }
        if flag == UserFlag::Disabled && value {
            sqlx::query(
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?)",
            )
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        let action = format!("user.{action}");
        audit(&mut tx, actor, None, &action, None, None, name).await?;
        tx.commit().await?;
        self.user(name).await
    }

    /// Every account, sorted by name.
    pub async fn users(&self) -> Result<Vec<User>> {
        Ok(sqlx::query_as::<_, User>(
            "SELECT id, name, email, is_admin, disabled, created_at FROM users ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Number of enabled admins; the last one cannot be demoted or disabled.
    pub async fn admin_count(&self) -> Result<i64> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled = 0")
                .fetch_one(&self.pool)
                .await?;
        Ok(n)
    }

    /// The projects a member owns, newest first.
    pub async fn projects_of(&self, owner_id: i64) -> Result<Vec<Project>> {
        let sql =
            format!("{PROJECT_SELECT} WHERE p.owner_id = ? ORDER BY p.created_at DESC, p.id DESC");
        Ok(sqlx::query_as::<_, Project>(sqlx::AssertSqlSafe(sql))
            .bind(owner_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The source link the member gave for a project; empty when none was given or there is no such
    /// project.
    pub async fn source_url(&self, slug: &str) -> Result<String> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT source_url FROM projects WHERE slug = ?")
                .bind(slug)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(u,)| u).unwrap_or_default())
    }

    /// The audit log, newest first, optionally only one project's and/or one actor's entries.
    /// User-management entries name the affected user in `reason`, so filtering by user matches
    /// either column.
    pub async fn audit_filtered(
        &self,
        project: Option<&str>,
        user: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        Ok(sqlx::query_as::<_, AuditEntry>(
            "SELECT id, at, actor, project, action, from_state, to_state, reason FROM audit_log \
             WHERE (?1 IS NULL OR project = ?1) \
             AND (?2 IS NULL OR actor = ?2 OR (action LIKE 'user.%' AND reason = ?2)) \
             ORDER BY id DESC LIMIT ?3",
        )
        .bind(project)
        .bind(user)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A `users` row (id, name, email, is_admin, disabled, created_at) plus one extra column.
pub(super) type UserRow<X> = (i64, String, Option<String>, bool, bool, i64, X);

/// The account flags an admin can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserFlag {
    /// `is_admin`: may review requests and manage users.
    Admin,
    /// `disabled`: cannot log in; setting it ends the account's sessions.
    Disabled,
}
