//! The notification outbox: notes stored in the same transaction as the event they tell of, then
//! delivered by `notify`'s sender, which records each destination as it succeeds and marks the
//! note delivered (or given up) at the end.
//!
//! A note belongs to one process at a time (`claimed_by`), so two processes never both send it;
//! the server clears the claims of dead processes when it starts and resumes every note left.

use std::sync::Arc;

use sqlx::FromRow;
use tokio::sync::Notify;

use super::{Registry, Result, now};

/// Who a note is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum To {
    /// The member by this name.
    Owner(String),
    /// Every enabled admin with an email, plus the configured admin addresses and admin webhooks.
    Admins,
}

/// One piece of news, as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Who gets it; decides which emails and webhooks it goes to.
    pub to: To,
    /// Slug of the project the news is about (kept as text: the project may be gone by delivery).
    pub project: String,
    /// One-line summary; the sender prefixes it with `[clubhost]`.
    pub subject: String,
    /// Plain-text message under the subject.
    pub body: String,
}

impl Note {
    /// A note for the member named `owner` about `project`.
    pub fn owner(owner: &str, project: &str, subject: String, body: String) -> Note {
        Note {
            to: To::Owner(owner.to_string()),
            project: project.to_string(),
            subject,
            body,
        }
    }

    /// A note for the admins about `project`.
    pub fn admins(project: &str, subject: String, body: String) -> Note {
        Note {
            to: To::Admins,
            project: project.to_string(),
            subject,
            body,
        }
    }
}

/// A note not yet delivered, with what has been done about it.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Row id in the `notify_outbox` table; what the `note_*` calls take.
    pub id: i64,
    /// What to deliver.
    pub note: Note,
    /// Destinations already delivered to; never sent again.
    pub sent_to: Vec<String>,
    /// Failed rounds so far (across restarts).
    pub attempts: u32,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    audience: String,
    owner: Option<String>,
    project: String,
    subject: String,
    body: String,
    sent_to: String,
    attempts: i64,
}

impl From<Row> for Pending {
    fn from(r: Row) -> Pending {
        let to = match (r.audience.as_str(), r.owner) {
            ("owner", Some(name)) => To::Owner(name),
            _ => To::Admins,
        };
        Pending {
            id: r.id,
            note: Note {
                to,
                project: r.project,
                subject: r.subject,
                body: r.body,
            },
            sent_to: r.sent_to.lines().map(str::to_string).collect(),
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
        }
    }
}

/// Writes `notes` inside the caller's transaction; the caller wakes the sender after committing
/// ([`Registry::notes_committed`]).
pub(super) async fn insert(tx: &mut sqlx::SqliteConnection, notes: &[Note]) -> Result<()> {
    for n in notes {
        let (audience, owner) = match &n.to {
            To::Owner(name) => ("owner", Some(name.as_str())),
            To::Admins => ("admins", None),
        };
        sqlx::query(
            "INSERT INTO notify_outbox (audience, owner, project, subject, body, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(audience)
        .bind(owner)
        .bind(&n.project)
        .bind(&n.subject)
        .bind(&n.body)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

const PENDING: &str = "delivered_at IS NULL AND given_up_at IS NULL";

impl Registry {
    /// Woken after every commit that stored notes; the sender waits on it.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox_wake.clone()
    }

    /// Tells the sender that notes were committed (nothing when there were none).
    pub(super) fn notes_committed(&self, notes: usize) {
        if notes > 0 {
            self.outbox_wake.notify_one();
        }
    }

    #[cfg(test)]
    /// Stores notes that belong to no other change.
    pub(crate) async fn insert_notes(&self, notes: &[Note]) -> Result<()> {
        let mut tx = self.write().await?;
        insert(&mut tx, notes).await?;
        tx.commit().await?;
        self.notes_committed(notes.len());
        Ok(())
    }

    /// The newest note's id (0 when there is none): a process that must not pick up older notes
    /// (the CLI running the API itself) only looks above it.
    pub async fn outbox_newest(&self) -> Result<i64> {
        let (id,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM notify_outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    /// Unclaimed notes not yet delivered or given up, with ids above `after`, oldest first.
    pub async fn pending_notes(&self, after: i64) -> Result<Vec<Pending>> {
        let sql = format!(
            "SELECT id, audience, owner, project, subject, body, sent_to, attempts \
             FROM notify_outbox WHERE {PENDING} AND claimed_by IS NULL AND id > ? ORDER BY id"
        );
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Pending::from).collect())
    }

    /// Notes above `after` still waiting (claimed or not): what a CLI process waits for.
    pub async fn unfinished_notes(&self, after: i64) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM notify_outbox WHERE {PENDING} AND id > ?");
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Takes a note for the process `by`; false when another process already has it.
    pub async fn claim_note(&self, id: i64, by: &str) -> Result<bool> {
        let sql = format!(
            "UPDATE notify_outbox SET claimed_by = ? WHERE id = ? AND claimed_by IS NULL \
             AND {PENDING}"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(by)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Frees every claim but `keep`'s (the caller's own). Only a starting server calls this: it
    /// holds the admin socket, so no other server runs, and a CLI runs the API itself only when
    /// no server answers; other claims left are those of processes that died. Returns how many
    /// notes are waiting.
    pub async fn release_note_claims(&self, keep: &str) -> Result<u64> {
        let sql = format!(
            "UPDATE notify_outbox SET claimed_by = NULL WHERE {PENDING} AND claimed_by IS NOT ?"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(keep)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Records one destination as delivered, so it is never sent again.
    pub async fn note_sent_to(&self, id: i64, destination: &str) -> Result<()> {
        sqlx::query("UPDATE notify_outbox SET sent_to = sent_to || ? || char(10) WHERE id = ?")
            .bind(destination)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks note `id` delivered: it is never sent again and its last error is cleared.
    pub async fn note_delivered(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE notify_outbox SET delivered_at = ?, last_error = NULL WHERE id = ?")
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a failed round; with `give_up` the note is never tried again.
    pub async fn note_failed(
        &self,
        id: i64,
        attempts: u32,
        error: &str,
        give_up: bool,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE notify_outbox SET attempts = ?, last_error = ?, \
             given_up_at = CASE WHEN ? THEN ? ELSE NULL END WHERE id = ?",
        )
        .bind(i64::from(attempts))
        .bind(error)
        .bind(give_up)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets finished notes older than `age_secs`, so the table stays small.
    pub async fn prune_outbox(&self, age_secs: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM notify_outbox WHERE (delivered_at IS NOT NULL OR given_up_at IS NOT NULL) \
             AND created_at < ?",
        )
        .bind(now() - age_secs)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewProject, ProjectState};

    #[tokio::test]
    async fn notes_are_stored_only_with_their_event() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("t.db"), crate::SecretKey::generate())
            .await
            .unwrap();
        let u = reg.add_user("ana", false, None, "cli").await.unwrap();
        let new = NewProject {
            slug: "blog",
            name: "Blog",
            description: "",
            owner_id: u.id,
            stack_source: "services: {}",
            is_root: false,
            term_days: 30,
            source_url: "",
        };
        reg.insert_project(new, "ana").await.unwrap();
        let note = |p: &crate::Project| {
            vec![Note::owner(
                &p.owner,
                &p.slug,
                "moved".into(),
                String::new(),
            )]
        };
        // A refused move stores nothing.
        let refused = reg
            .transition_noting("blog", ProjectState::Running, "x", "", note)
            .await;
        assert!(refused.is_err());
        assert!(reg.pending_notes(0).await.unwrap().is_empty());
        reg.transition_noting("blog", ProjectState::Approved, "x", "", note)
            .await
            .unwrap();
        let stored = reg.pending_notes(0).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].note.to, To::Owner("ana".into()));
        // A reminder already recorded (a repeat after a crash) queues nothing more.
        let reminder = [Note::owner("ana", "blog", "soon".into(), String::new())];
        for _ in 0..2 {
            reg.record_reminder("blog", 1000, &[60], "scheduler", "soon", &reminder)
                .await
                .unwrap();
        }
        assert_eq!(reg.pending_notes(0).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn notes_are_claimed_once_and_remember_their_destinations() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("t.db"), crate::SecretKey::generate())
            .await
            .unwrap();
        assert_eq!(reg.outbox_newest().await.unwrap(), 0);
        reg.insert_notes(&[
            Note::admins("blog", "New".into(), "body".into()),
            Note::owner("ana", "blog", "Approved".into(), "yes".into()),
        ])
        .await
        .unwrap();
        let pending = reg.pending_notes(0).await.unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[1].note.to, To::Owner("ana".into()));
        let id = pending[0].id;
        assert!(reg.claim_note(id, "a").await.unwrap());
        assert!(!reg.claim_note(id, "b").await.unwrap(), "claimed twice");
        assert_eq!(reg.pending_notes(0).await.unwrap().len(), 1);

        reg.note_sent_to(id, "http://x/hook").await.unwrap();
        reg.note_failed(id, 1, "mail down", false).await.unwrap();
        // A restarted server takes over the claims of dead processes.
        assert_eq!(reg.release_note_claims("server").await.unwrap(), 2);
        let again = reg.pending_notes(0).await.unwrap();
        assert_eq!(again[0].sent_to, ["http://x/hook"]);
        assert_eq!(again[0].attempts, 1);

        reg.note_delivered(id).await.unwrap();
        assert_eq!(reg.unfinished_notes(0).await.unwrap(), 1);
        assert_eq!(reg.unfinished_notes(id).await.unwrap(), 1);
        let other = again[1].id;
        reg.note_failed(other, 5, "gone", true).await.unwrap();
        assert_eq!(reg.unfinished_notes(0).await.unwrap(), 0);
        assert!(!reg.claim_note(other, "c").await.unwrap(), "given up");
        assert_eq!(reg.prune_outbox(-10).await.unwrap(), 2);
    }
}
