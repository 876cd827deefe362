//! Registry SQL for hosting terms: what the scheduler needs to find its next deadline, reminders
//! already sent, term changes, permanent projects, renewal requests and per-member counts for
//! quotas. Every write is audited in the same transaction as the change.

use serde::Serialize;
use sqlx::FromRow;

use super::{Note, ProjectState, Registry, RegistryError, Result, audit, now, outbox};

/// What the scheduler knows about one project that has (or had) a term.
#[derive(Debug, Clone, FromRow)]
pub struct TermRow {
    /// Row id in the `projects` table; keys the reminders already sent.
    pub id: i64,
    /// The project's slug.
    pub slug: String,
    /// Name of the owning member, who gets the reminders.
    pub owner: String,
    /// Lifecycle state; the scheduler only sees `running`, `failed`, `stopped` and `expired`.
    pub state: ProjectState,
    /// When the term runs out, in Unix seconds; `None` if it never started.
    pub term_end: Option<i64>,
    /// Root and admin-marked projects never expire.
    pub permanent: bool,
    /// When it last became `expired` (from the audit log, written in the same transaction as the
    /// state change, so it can never disagree with it): the grace period counts from here.
    pub expired_at: Option<i64>,
}

impl TermRow {
    /// The lifecycle state (a copy; the field itself is public too).
    pub fn state(&self) -> ProjectState {
        self.state
    }
}

/// A member's request for a later term end.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Renewal {
    /// Row id in the `renewals` table; what an admin's decision names.
    pub id: i64,
    /// Slug of the project to renew.
    pub project: String,
    /// Name of the project's owner.
    pub owner: String,
    /// Name of the user who filed the request.
    pub requested_by: String,
    /// The term end asked for.
    pub new_end: i64,
    /// The project's term end when the request was listed, for the admin's comparison.
    pub current_end: Option<i64>,
    /// Why the member wants more time, as they wrote it.
    pub reason: String,
    /// pending | approved | rejected
    pub state: String,
    pub(crate) decided_by: Option<String>,
    pub(crate) decided_at: Option<i64>,
    /// The admin's note on approval or rejection.
    pub decision: Option<String>,
    pub(crate) created_at: i64,
}

const RENEWAL_SELECT: &str = "SELECT r.id, p.slug AS project, u.name AS owner, r.requested_by, \
     r.new_end, p.term_end AS current_end, r.reason, r.state, r.decided_by, r.decided_at, \
     r.decision, r.created_at FROM renewals r JOIN projects p ON p.id = r.project_id \
     JOIN users u ON u.id = p.owner_id";

impl Registry {
    /// Projects the scheduler may have to act on: those with a term that can still run out, and
    /// expired ones waiting for their purge.
    pub async fn term_rows(&self) -> Result<Vec<TermRow>> {
        Ok(sqlx::query_as::<_, TermRow>(
            "SELECT p.id, p.slug, u.name AS owner, p.state, p.term_end, \
             (p.permanent OR p.is_root) AS permanent, \
             (SELECT MAX(a.at) FROM audit_log a WHERE a.project = p.slug \
              AND a.to_state = 'expired') AS expired_at \
             FROM projects p JOIN users u ON u.id = p.owner_id \
             WHERE p.state IN ('running', 'failed', 'stopped', 'expired') ORDER BY p.slug",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Reminders already sent, as `(project id, term end, offset)`.
    pub async fn reminders_sent(&self) -> Result<Vec<(i64, i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT project_id, term_end, offset_secs FROM term_reminders ORDER BY project_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records that the reminders at `offsets` (seconds before `term_end`) are done, audits the
    /// one actually sent and stores its `notes` in the outbox, all in one transaction. Returns
    /// false when they were already recorded (a repeat after a crash): nothing is stored then.
    pub async fn record_reminder(
        &self,
        slug: &str,
        term_end: i64,
        offsets: &[i64],
        actor: &str,
        what: &str,
        notes: &[Note],
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let (id,): (i64,) = sqlx::query_as("SELECT id FROM projects WHERE slug = ?")
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("project {slug:?}")))?;
        let mut inserted = 0;
        for offset in offsets {
            inserted += sqlx::query(
                "INSERT OR IGNORE INTO term_reminders (project_id, term_end, offset_secs, sent_at) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(id)
            .bind(term_end)
            .bind(offset)
            .bind(now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        if inserted == 0 {
            return Ok(false);
        }
        audit(
            &mut tx,
            actor,
            Some(slug),
            "term.reminder",
            None,
            None,
            what,
        )
        .await?;
        outbox::insert(&mut tx, notes).await?;
        tx.commit().await?;
        self.notes_committed(notes.len());
        Ok(true)
    }

    /// Sets a project's term end (None: no end), audits the change with its reason and stores
    /// `notes` in the outbox, in one transaction.
    pub async fn set_term_end(
        &self,
        slug: &str,
        end: Option<i64>,
        actor: &str,
        reason: &str,
        notes: &[Note],
    ) -> Result<()> {
        let mut tx = self.write().await?;
        let done = sqlx::query("UPDATE projects SET term_end = ?, updated_at = ? WHERE slug = ?")
            .bind(end)
            .bind(now())
            .bind(slug)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(RegistryError::NotFound(format!("project {slug:?}")));
        }
        audit(&mut tx, actor, Some(slug), "term.set", None, None, reason).await?;
        outbox::insert(&mut tx, notes).await?;
        tx.commit().await?;
        self.notes_committed(notes.len());
        Ok(())
    }

    /// Marks a project permanent (never expires) or gives it back its term; audited.
    pub async fn set_permanent(&self, slug: &str, permanent: bool, actor: &str) -> Result<()> {
        let mut tx = self.write().await?;
        let done = sqlx::query("UPDATE projects SET permanent = ?, updated_at = ? WHERE slug = ?")
            .bind(permanent)
            .bind(now())
            .bind(slug)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(RegistryError::NotFound(format!("project {slug:?}")));
        }
        let action = if permanent {
            "term.permanent"
        } else {
            "term.temporary"
        };
        audit(&mut tx, actor, Some(slug), action, None, None, "").await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many of a member's projects hold (or are about to hold) containers, not counting
    /// `except` (the project being checked itself).
    pub async fn active_projects_of(&self, owner_id: i64, except: &str) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM projects WHERE owner_id = ? AND slug != ? \
             AND state IN ('approved', 'deploying', 'running')",
        )
        .bind(owner_id)
        .bind(except)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    // ---- renewals ----

    /// Files a renewal request (audited, with the notes `notes` makes of it stored in the same
    /// transaction); an earlier pending one for the project is a conflict.
    pub async fn insert_renewal(
        &self,
        slug: &str,
        requested_by: &str,
        new_end: i64,
        reason: &str,
        notes: impl FnOnce(&Renewal) -> Vec<Note>,
    ) -> Result<Renewal> {
        let mut tx = self.write().await?;
        let (id,): (i64,) = sqlx::query_as("SELECT id FROM projects WHERE slug = ?")
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("project {slug:?}")))?;
        let pending: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM renewals WHERE project_id = ? AND state = 'pending' LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((other,)) = pending {
            return Err(RegistryError::Conflict(format!(
                "project {slug:?} already has a pending renewal request (#{other})"
            )));
        }
        let res = sqlx::query(
            "INSERT INTO renewals (project_id, requested_by, new_end, reason, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(requested_by)
        .bind(new_end)
        .bind(reason)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let renewal = res.last_insert_rowid();
        let what = format!("renewal #{renewal} to {new_end}: {reason}");
        audit(
            &mut tx,
            requested_by,
            Some(slug),
            "renewal.request",
            None,
            None,
            &what,
        )
        .await?;
        let filed = renewal_in(&mut tx, renewal).await?;
        let notes = notes(&filed);
        outbox::insert(&mut tx, &notes).await?;
        tx.commit().await?;
        self.notes_committed(notes.len());
        Ok(filed)
    }

    /// One renewal request by id, in any state.
    pub async fn renewal(&self, id: i64) -> Result<Renewal> {
        let mut conn = self.pool.acquire().await?;
        renewal_in(&mut conn, id).await
    }

    /// Renewal requests, oldest first; only pending ones unless `all`.
    pub async fn renewals(&self, all: bool) -> Result<Vec<Renewal>> {
        let sql = format!("{RENEWAL_SELECT} WHERE ?1 OR r.state = 'pending' ORDER BY r.id");
        Ok(sqlx::query_as::<_, Renewal>(sqlx::AssertSqlSafe(sql))
            .bind(all)
            .fetch_all(&self.pool)
            .await?)
    }

    /// A project's renewal requests, newest first.
    pub async fn renewals_of(&self, slug: &str) -> Result<Vec<Renewal>> {
        let sql = format!("{RENEWAL_SELECT} WHERE p.slug = ? ORDER BY r.id DESC");
        Ok(sqlx::query_as::<_, Renewal>(sqlx::AssertSqlSafe(sql))
            .bind(slug)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Approves (moving the project's term end) or rejects a pending renewal, in one audited
    /// transaction with the notes `notes` makes of the decision. Deciding twice is a conflict, so
    /// a repeat changes nothing.
    pub async fn decide_renewal(
        &self,
        id: i64,
        approve: bool,
        actor: &str,
        note: &str,
        notes: impl FnOnce(&Renewal) -> Vec<Note>,
    ) -> Result<Renewal> {
        let mut tx = self.write().await?;
        let row: Option<(String, i64, String, i64)> = sqlx::query_as(
            "SELECT r.state, r.new_end, p.slug, p.id FROM renewals r \
             JOIN projects p ON p.id = r.project_id WHERE r.id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let (state, new_end, slug, project_id) =
            row.ok_or_else(|| RegistryError::NotFound(format!("renewal #{id}")))?;
        if state != "pending" {
            return Err(RegistryError::Conflict(format!(
                "renewal #{id} is already {state}"
            )));
        }
        let verdict = if approve { "approved" } else { "rejected" };
        let t = now();
        sqlx::query(
            "UPDATE renewals SET state = ?, decided_by = ?, decided_at = ?, decision = ? \
             WHERE id = ? AND state = 'pending'",
        )
        .bind(verdict)
        .bind(actor)
        .bind(t)
        .bind(note)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if approve {
            sqlx::query("UPDATE projects SET term_end = ?, updated_at = ? WHERE id = ?")
                .bind(new_end)
                .bind(t)
                .bind(project_id)
                .execute(&mut *tx)
                .await?;
        }
        let what = if approve {
            format!("renewal #{id}: term end moved to {new_end}. {note}")
        } else {
            format!("renewal #{id} rejected: {note}")
        };
        let action = format!("renewal.{}", if approve { "approve" } else { "reject" });
        audit(
            &mut tx,
            actor,
            Some(&slug),
            &action,
            None,
            None,
            what.trim(),
        )
        .await?;
        let decided = renewal_in(&mut tx, id).await?;
        let notes = notes(&decided);
        outbox::insert(&mut tx, &notes).await?;
        tx.commit().await?;
        self.notes_committed(notes.len());
        Ok(decided)
    }

    // ---- who to notify ----

    /// A member's email address, if one is on file.
    pub async fn user_email(&self, name: &str) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT email FROM users WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(e,)| e))
    }

    /// Email addresses of the admins who have one.
    pub async fn admin_emails(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT email FROM users WHERE is_admin = 1 AND disabled = 0 AND email IS NOT NULL \
             ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(e,)| e).collect())
    }

    /// Records an admin action that changes no row (gc, clock moves) in the audit log.
    pub async fn audit_action(
        &self,
        actor: &str,
        project: Option<&str>,
        action: &str,
        reason: &str,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        audit(&mut tx, actor, project, action, None, None, reason).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// One renewal, read on `conn` (inside a transaction, it sees that transaction's changes).
async fn renewal_in(conn: &mut sqlx::SqliteConnection, id: i64) -> Result<Renewal> {
    let sql = format!("{RENEWAL_SELECT} WHERE r.id = ?");
    sqlx::query_as::<_, Renewal>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| RegistryError::NotFound(format!("renewal #{id}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewProject;

    async fn fresh() -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("t.db"), crate::SecretKey::generate())
            .await
            .unwrap();
        let u = reg.add_user("ana", false, None, "cli").await.unwrap();
        reg.insert_project(
            NewProject {
                slug: "blog",
                name: "Blog",
                description: "a blog",
                owner_id: u.id,
                stack_source: "services: {}",
                is_root: false,
                term_days: 30,
                source_url: "",
            },
            "ana",
        )
        .await
        .unwrap();
        (dir, reg)
    }

    #[tokio::test]
    async fn reminders_are_recorded_once() {
        let (_d, reg) = fresh().await;
        assert!(
            reg.record_reminder("blog", 1000, &[86_400], "scheduler", "1 day", &[])
                .await
                .unwrap()
        );
        assert!(
            !reg.record_reminder("blog", 1000, &[86_400], "scheduler", "1 day", &[])
                .await
                .unwrap()
        );
        // A new term end (after a renewal) is a fresh set.
        assert!(
            reg.record_reminder("blog", 2000, &[86_400], "scheduler", "1 day", &[])
                .await
                .unwrap()
        );
        assert_eq!(reg.reminders_sent().await.unwrap().len(), 2);
        let log = reg.audit_log(Some("blog")).await.unwrap();
        assert_eq!(
            log.iter().filter(|e| e.action == "term.reminder").count(),
            2
        );
    }

    #[tokio::test]
    async fn renewal_approval_moves_the_term_end_once() {
        let (_d, reg) = fresh().await;
        let r = reg
            .insert_renewal("blog", "ana", 5_000_000_000, "exam season", |_| Vec::new())
            .await
            .unwrap();
        assert_eq!(r.state, "pending");
        let err = reg
            .insert_renewal("blog", "ana", 5_000_000_001, "again", |_| Vec::new())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("pending renewal"), "{err}");
        assert_eq!(reg.renewals(false).await.unwrap().len(), 1);
        let done = reg
            .decide_renewal(r.id, true, "admin", "ok", |_| Vec::new())
            .await
            .unwrap();
        assert_eq!(done.state, "approved");
        assert_eq!(done.current_end, Some(5_000_000_000));
        assert_eq!(
            reg.project("blog").await.unwrap().term_end,
            Some(5_000_000_000)
        );
        let err = reg
            .decide_renewal(r.id, false, "admin", "no", |_| Vec::new())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("already approved"), "{err}");
        assert!(reg.renewals(false).await.unwrap().is_empty());
        let actions: Vec<String> = reg
            .audit_log(Some("blog"))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert!(actions.contains(&"renewal.request".to_string()));
        assert!(actions.contains(&"renewal.approve".to_string()));
    }
}
