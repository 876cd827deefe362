//! The SQLite registry: users, projects, deployments and the audit log.
//!
//! Architecture invariant: only this crate writes SQL (it is the only one that depends on sqlx). Every project state change goes through
//! [`Registry::transition`], which checks the lifecycle table in [`state`] and appends to the audit
//! log in the same transaction, so the log can never disagree with the projects table.

#![warn(missing_docs)]

pub mod accounts;
mod backups;
pub mod certs;
pub mod clock;
pub mod domains;
mod images;
pub mod outbox;
mod review;
pub mod secrets;
pub mod sessions;
mod sources;
pub mod state;
mod subnets;
pub mod terms;
mod upgrade;
mod variables;

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sqlx::{FromRow, SqlitePool};

pub use backups::BackupRow;
pub use images::DeployedImage;
pub(crate) use outbox::Note;
pub use review::ProjectEdit;
pub use secrets::SecretKey;
pub use sources::{NewSource, ProjectSource};
pub use state::ProjectState;
pub use subnets::SubnetAllocation;

/// Everything a registry call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The database failed underneath (I/O, a constraint other than the ones mapped below).
    #[error("registry database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the bundled migrations at [`Registry::open`] failed.
    #[error("registry migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A migration failed on an existing registry; the copy taken before it was put back.
    #[error(
        "upgrading the registry {path} failed: {source}; the database as it was before the \
         upgrade has been restored"
    )]
    UpgradeFailed {
        /// The registry's database file.
        path: std::path::PathBuf,
        /// Why the migration failed.
        source: Box<RegistryError>,
    },
    /// Taking the copy before a migration, or putting it back, failed.
    #[error("registry backup {path}: {message}")]
    Backup {
        /// The copy's file (`<db>.pre-upgrade`).
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The key given cannot open the secrets already sealed in this registry.
    #[error(
        "the secret key does not open this registry's secrets (it was sealed with another key; \
         check [secrets] key_file or the systemd credential)"
    )]
    WrongKey,
    /// A sealed value could not be opened or sealed; the string says which row.
    #[error("secret {0}")]
    Secret(String),
    /// No user or project by that name; the string says which (`user "ana"`).
    #[error("{0} not found")]
    NotFound(String),
    /// The write clashes with what is stored (a taken name, slug or email, a second root project,
    /// a renewal already pending or decided); the string is the message for the user.
    #[error("{0}")]
    Conflict(String),
    /// [`Registry::transition`] was asked for a move the lifecycle table in [`state`] forbids.
    #[error("project {slug}: cannot go from {from} to {to}")]
    InvalidTransition {
        /// Project the move was asked for.
        slug: String,
        /// State the project was in when the move was checked.
        from: ProjectState,
        /// State that was asked for.
        to: ProjectState,
    },
}

pub(crate) type Result<T> = std::result::Result<T, RegistryError>;

/// Seconds since the Unix epoch; the registry's only notion of time, read from the lifecycle
/// clock so tests can move it.
pub fn now() -> i64 {
    crate::clock::now()
}

/// A `users` row: a member or admin, whether made by the CLI or by sign-up in the portal.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct User {
    /// Row id in the `users` table; what projects point at as `owner_id`.
    pub id: i64,
    /// Login name; unique, shown in the portal and written as `actor` in the audit log.
    pub name: String,
    /// Address for notifications and login; `None` for accounts made without one. Unique
    /// case-insensitively.
    pub email: Option<String>,
    /// May review requests and manage users and every project.
    pub is_admin: bool,
    /// Set by an admin: the account cannot log in and its sessions are gone.
    pub disabled: bool,
    pub(crate) created_at: i64,
}

/// A project row as stored; `state` is parsed into [`ProjectState`] by [`Project::state`].
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Project {
    /// Row id in the `projects` table; stable for the project's life, referenced by deployments.
    pub id: i64,
    /// Short name, unique: names the route (`/<slug>`), the Docker objects and the audit entries.
    pub slug: String,
    /// Display name the member chose.
    pub name: String,
    /// Free text the member wrote for the review; empty for none.
    pub description: String,
    /// `users.id` of the member who submitted (and owns) the project.
    pub owner_id: i64,
    /// Owner's name, joined in for display.
    pub owner: String,
    /// Where the project is in its lifecycle; only [`Registry::transition`] changes it.
    pub state: ProjectState,
    /// The stack file exactly as submitted; parsed again at every deploy. Not serialised.
    #[serde(skip)]
    pub stack_source: String,
    /// Path prefix the proxy serves the project at: `/<slug>`, or `/` for the root project.
    pub route: String,
    /// Serves `/`; at most one project is root, and it has no term.
    pub is_root: bool,
    /// Length of a hosting term, in days, as requested; starts counting at approval.
    pub term_days: i64,
    /// When the term runs out, in Unix seconds; `None` until the project is approved.
    pub term_end: Option<i64>,
    /// Marked by an admin: the term never runs out.
    pub permanent: bool,
    /// Why the last deploy failed, shown to the member and the admin; cleared when it runs again.
    pub failure_reason: Option<String>,
    /// The admin's note from the last time the request was sent back (`changes_requested`).
    pub review_note: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl Project {
    /// The lifecycle state (a copy; the field itself is public too).
    pub fn state(&self) -> ProjectState {
        self.state
    }
}

/// One deploy attempt of a project, as recorded in the `deployments` table.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Deployment {
    pub(crate) id: i64,
    pub(crate) project_id: i64,
    pub(crate) state: String,
    pub(crate) started_at: i64,
    pub(crate) finished_at: Option<i64>,
    pub(crate) error: Option<String>,
}

/// One row of the append-only audit log: who did what to which project, and when.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct AuditEntry {
    pub(crate) id: i64,
    /// When it happened, in Unix seconds.
    pub at: i64,
    /// Who did it: a user name, or a fixed name for non-human actors (the scheduler, the admin
    /// socket).
    pub actor: String,
    /// Slug of the project concerned, kept as text so history outlives the project; `None` for user
    /// management entries.
    pub project: Option<String>,
    /// What was done, as `area.verb` (`project.submit`, `project.approved`, `user.disable`).
    pub action: String,
    pub(crate) from_state: Option<String>,
    pub(crate) to_state: Option<String>,
    /// Free text given with the action; for `user.*` entries, the affected user's name.
    pub reason: String,
}

/// What a submission carries into the registry.
#[derive(Debug, Clone)]
pub struct NewProject<'a> {
    /// Short name asked for; must not be taken (see [`Project::slug`]).
    pub slug: &'a str,
    /// Display name.
    pub name: &'a str,
    /// The member's description for the review.
    pub description: &'a str,
    /// `users.id` of the submitting member, who becomes the owner.
    pub owner_id: i64,
    /// The stack file as submitted, stored verbatim.
    pub stack_source: &'a str,
    /// Asks to serve `/` instead of `/<slug>`; refused as a conflict if a root project exists.
    pub is_root: bool,
    /// Requested term length in days.
    pub term_days: u32,
    /// Where the project's source lives (a link the member gave; empty for none).
    pub source_url: &'a str,
}

const PROJECT_SELECT: &str = "SELECT p.id, p.slug, p.name, p.description, p.owner_id, \
     u.name AS owner, p.state, p.stack_source, p.route, p.is_root, p.term_days, \
     p.term_end, p.permanent, p.failure_reason, p.review_note, p.created_at, p.updated_at \
     FROM projects p JOIN users u ON u.id = p.owner_id";

/// Handle to the registry; cheap to clone (a pool inside).
#[derive(Clone)]
pub struct Registry {
    pool: SqlitePool,
    /// Notified after a commit that stored notes, so the sender (`notify`) looks at the outbox.
    outbox_wake: Arc<tokio::sync::Notify>,
    /// The key secrets are sealed with (see [`secrets`]); replaced by a rotation.
    key: Arc<tokio::sync::RwLock<SecretKey>>,
}

impl Registry {
    /// Opens (creating if needed) the database at `path` in WAL mode, applies migrations (an
    /// existing database is copied first and put back should one fail; see [`upgrade`]) and
    /// checks `key` against the secrets it holds, sealing any still in plain text.
    pub async fn open(path: &Path, key: SecretKey) -> Result<Registry> {
        upgrade::open(path, key, &sqlx::migrate!("../../migrations")).await
    }

    /// Closes every connection (checkpointing the WAL into the database file).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes SQLite's write lock up front (waiting out
    /// another writer for the busy timeout): a deferred transaction that read first would fail with
    /// SQLITE_BUSY_SNAPSHOT, not wait, whenever another connection (the notification sender, a
    /// second process on the same file) committed in between.
    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// This registry's identity, made once: every Docker object clubhost creates is labelled with
    /// it, so two registries on one engine never touch each other's objects.
    pub async fn instance_id(&self) -> Result<String> {
        let fresh = format!(
            "{:x}{:x}",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
            std::process::id()
        );
        sqlx::query("INSERT OR IGNORE INTO meta (key, value) VALUES ('instance', ?)")
            .bind(&fresh)
            .execute(&self.pool)
            .await?;
        let (id,): (String,) = sqlx::query_as("SELECT value FROM meta WHERE key = 'instance'")
            .fetch_one(&self.pool)
            .await?;
        Ok(id)
    }

    // ---- users ----

    /// Creates an account without a password (the CLI's and admin socket's way), with its
    /// notification address if given, audited as `user.add` or `user.add_admin`; a taken name or
    /// e-mail (in any case) is a [`RegistryError::Conflict`] and nothing is written.
    pub async fn add_user(
        &self,
        name: &str,
        is_admin: bool,
        email: Option<&str>,
        actor: &str,
    ) -> Result<User> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (name, email, is_admin, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(name)
        .bind(email)
        .bind(is_admin)
        .bind(now())
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            if is_unique_violation(&e) {
                let what = if e.to_string().contains("email") {
                    format!("email {:?} belongs to another account", email.unwrap_or(""))
                } else {
                    format!("user {name:?} already exists")
                };
                return Err(RegistryError::Conflict(what));
            }
            return Err(e.into());
        }
        let action = if is_admin {
            "user.add_admin"
        } else {
            "user.add"
        };
        audit(&mut tx, actor, None, action, None, None, name).await?;
        tx.commit().await?;
        self.user(name).await
    }

    /// Looks a user up by login name.
    pub async fn user(&self, name: &str) -> Result<User> {
        sqlx::query_as::<_, User>(
            "SELECT id, name, email, is_admin, disabled, created_at FROM users WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| RegistryError::NotFound(format!("user {name:?}")))
    }

    // ---- projects ----

    /// Inserts a project in state `requested` and audits the submission.
    pub async fn insert_project(&self, new: NewProject<'_>, actor: &str) -> Result<Project> {
        let route = if new.is_root {
            "/".to_string()
        } else {
            format!("/{}", new.slug)
        };
        let t = now();
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO projects (slug, name, description, owner_id, state, stack_source, route, \
             is_root, term_days, source_url, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.slug)
        .bind(new.name)
        .bind(new.description)
        .bind(new.owner_id)
        .bind(ProjectState::Requested.as_str())
        .bind(new.stack_source)
        .bind(&route)
        .bind(new.is_root)
        .bind(new.term_days as i64)
        .bind(new.source_url)
        .bind(t)
        .bind(t)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            if is_unique_violation(&e) {
                let what = if e.to_string().contains("is_root") {
                    "another project already serves `/` (the root project)".to_string()
                } else {
                    format!("slug {:?} is already taken", new.slug)
                };
                return Err(RegistryError::Conflict(what));
            }
            return Err(e.into());
        }
        audit(
            &mut tx,
            actor,
            Some(new.slug),
            "project.submit",
            None,
            Some(ProjectState::Requested),
            "",
        )
        .await?;
        tx.commit().await?;
        self.project(new.slug).await
    }

    /// Looks a project up by slug.
    pub async fn project(&self, slug: &str) -> Result<Project> {
        let sql = format!("{PROJECT_SELECT} WHERE p.slug = ?");
        sqlx::query_as::<_, Project>(sqlx::AssertSqlSafe(sql))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("project {slug:?}")))
    }

    /// Every project, sorted by slug.
    pub async fn projects(&self) -> Result<Vec<Project>> {
        let sql = format!("{PROJECT_SELECT} ORDER BY p.slug");
        Ok(sqlx::query_as::<_, Project>(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Moves a project from its current state to `to`, if the lifecycle allows it, and audits it.
    ///
    /// The UPDATE is conditional on the state read in the same transaction, so two writers can't
    /// both make the same move.
    pub async fn transition(
        &self,
        slug: &str,
        to: ProjectState,
        actor: &str,
        reason: &str,
    ) -> Result<Project> {
        self.transition_noting(slug, to, actor, reason, |_| Vec::new())
            .await
    }

    /// [`Registry::transition`], storing the notes `notes` makes of the moved project (its new
    /// term end, say) in the outbox in the same transaction: the news goes out if and only if
    /// the move happened.
    pub async fn transition_noting(
        &self,
        slug: &str,
        to: ProjectState,
        actor: &str,
        reason: &str,
        notes: impl FnOnce(&Project) -> Vec<Note>,
    ) -> Result<Project> {
        let mut tx = self.write().await?;
        transition_in(&mut tx, slug, to, actor, reason).await?;
        let sql = format!("{PROJECT_SELECT} WHERE p.slug = ?");
        let moved = sqlx::query_as::<_, Project>(sqlx::AssertSqlSafe(sql))
            .bind(slug)
            .fetch_one(&mut *tx)
            .await?;
        let notes = notes(&moved);
        outbox::insert(&mut tx, &notes).await?;
        tx.commit().await?;
        self.notes_committed(notes.len());
        Ok(moved)
    }

    /// Removes a project and its deployments; the audit log keeps its history.
    pub async fn delete_project(&self, slug: &str, actor: &str, reason: &str) -> Result<()> {
        let mut tx = self.write().await?;
        let state: Option<(ProjectState,)> =
            sqlx::query_as("SELECT state FROM projects WHERE slug = ?")
                .bind(slug)
                .fetch_optional(&mut *tx)
                .await?;
        let (state,) = state.ok_or_else(|| RegistryError::NotFound(format!("project {slug:?}")))?;
        sqlx::query("DELETE FROM projects WHERE slug = ?")
            .bind(slug)
            .execute(&mut *tx)
            .await?;
        let from = Some(state);
        audit(
            &mut tx,
            actor,
            Some(slug),
            "project.delete",
            from,
            None,
            reason,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- deployments ----

    /// Records the start of a deploy of project `project_id` (state `deploying`) and returns the
    /// deployment's id, which the deploy puts in its container names.
    pub async fn start_deployment(&self, project_id: i64) -> Result<i64> {
        let res = sqlx::query(
            "INSERT INTO deployments (project_id, state, started_at) VALUES (?, 'deploying', ?)",
        )
        .bind(project_id)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(res.last_insert_rowid())
    }

    /// Records how deployment `id` ended: `state` is `running` or `failed`, with the error for a
    /// failure.
    pub async fn finish_deployment(&self, id: i64, state: &str, error: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE deployments SET state = ?, finished_at = ?, error = ? WHERE id = ?")
            .bind(state)
            .bind(now())
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A project's deploy attempts, oldest first.
    pub async fn deployments(&self, project_id: i64) -> Result<Vec<Deployment>> {
        Ok(sqlx::query_as::<_, Deployment>(
            "SELECT id, project_id, state, started_at, finished_at, error FROM deployments \
             WHERE project_id = ? ORDER BY id",
        )
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?)
    }

    // ---- audit ----

    /// The whole audit log, oldest first, or one project's entries if `project` is given.
    pub async fn audit_log(&self, project: Option<&str>) -> Result<Vec<AuditEntry>> {
        Ok(sqlx::query_as::<_, AuditEntry>(
            "SELECT id, at, actor, project, action, from_state, to_state, reason FROM audit_log \
             WHERE ?1 IS NULL OR project = ?1 ORDER BY id",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// [`Registry::transition`] inside a caller's transaction, so a state change can be committed
/// together with the edits that go with it (a resubmission). The only code that writes `state`
/// after insertion.
async fn transition_in(
    tx: &mut sqlx::SqliteConnection,
    slug: &str,
    to: ProjectState,
    actor: &str,
    reason: &str,
) -> Result<()> {
    let row: Option<(ProjectState, i64)> =
        sqlx::query_as("SELECT state, term_days FROM projects WHERE slug = ?")
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?;
    let (from, term_days) =
        row.ok_or_else(|| RegistryError::NotFound(format!("project {slug:?}")))?;
    if !from.can_become(to) {
        return Err(RegistryError::InvalidTransition {
            slug: slug.to_string(),
            from,
            to,
        });
    }
    let t = now();
    // The term starts when an admin approves.
    let term_end = (to == ProjectState::Approved).then_some(t + term_days * 86_400);
    let failure = (to == ProjectState::Failed).then_some(reason);
    // A request sent back keeps the admin's note for the member (and the next review).
    let note = (to == ProjectState::ChangesRequested).then_some(reason);
    sqlx::query(
        "UPDATE projects SET state = ?, updated_at = ?, term_end = COALESCE(?, term_end), \
         failure_reason = CASE WHEN ? = 'failed' THEN ? WHEN ? = 'running' THEN NULL \
         ELSE failure_reason END, review_note = COALESCE(?, review_note) \
         WHERE slug = ? AND state = ?",
    )
    .bind(to.as_str())
    .bind(t)
    .bind(term_end)
    .bind(to.as_str())
    .bind(failure)
    .bind(to.as_str())
    .bind(note)
    .bind(slug)
    .bind(from.as_str())
    .execute(&mut *tx)
    .await?;
    let action = format!("project.{to}");
    audit(tx, actor, Some(slug), &action, Some(from), Some(to), reason).await
}

async fn audit(
    tx: &mut sqlx::SqliteConnection,
    actor: &str,
    project: Option<&str>,
    action: &str,
    from: Option<ProjectState>,
    to: Option<ProjectState>,
    reason: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, project, action, from_state, to_state, reason) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(now())
    .bind(actor)
    .bind(project)
    .bind(action)
    .bind(from.map(ProjectState::as_str))
    .bind(to.map(ProjectState::as_str))
    .bind(reason)
    .execute(tx)
    .await?;
    Ok(())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests;
