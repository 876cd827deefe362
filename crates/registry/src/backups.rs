//! Backup rows (`backups`, migration 0010): one per attempt, `running` until its directory is
//! complete and renamed into place. Only `complete` rows are listed, verified or restored, so an
//! interrupted backup is never offered. Also the sealing of a backup's secret variables with the
//! registry's key, so a backup's files never hold a secret in plain text.

use serde::Serialize;
use sqlx::FromRow;

use super::{Note, Registry, RegistryError, Result, audit, now, outbox};

/// A `backups` row.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct BackupRow {
    /// The backup's id: what `backup verify` and `backup restore` take.
    pub id: i64,
    /// The project's slug, as text: it outlives the project.
    pub project: String,
    /// `running`, `complete` or `failed`.
    pub state: String,
    /// When it started, in Unix seconds.
    pub started_at: i64,
    /// When it completed or failed.
    pub finished_at: Option<i64>,
    /// Its directory's name under the backup dir, once complete.
    pub dir: Option<String>,
    /// Bytes of all its files.
    pub bytes: i64,
    /// Why it failed.
    pub error: Option<String>,
    /// Who asked for it.
    pub actor: String,
    /// The restic snapshot it was copied into off-site (migration 0014), if it was.
    pub offsite: Option<String>,
    /// Why its off-site copy failed, if it did.
    pub offsite_error: Option<String>,
}

const BACKUP_SELECT: &str = "SELECT id, project, state, started_at, finished_at, dir, bytes, \
     error, actor, offsite, offsite_error FROM backups";

/// The associated data a backup's sealed secrets are bound to: they open only as this backup's.
/// The project and actor of backup `id` while it is still running; `None` once it ended.
async fn running_backup(
    tx: &mut sqlx::SqliteConnection,
    id: i64,
) -> Result<Option<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT project, actor FROM backups WHERE id = ? AND state = 'running'")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?,
    )
}

fn backup_aad(id: i64, project: &str) -> String {
    format!("backup:{id}:{project}")
}

impl Registry {
    /// Records the start of a backup of `project` and returns its id.
    pub async fn start_backup(&self, project: &str, actor: &str) -> Result<i64> {
        let res = sqlx::query(
            "INSERT INTO backups (project, state, started_at, actor) VALUES (?, 'running', ?, ?)",
        )
        .bind(project)
        .bind(now())
        .bind(actor)
        .execute(&self.pool)
        .await?;
        Ok(res.last_insert_rowid())
    }

    /// Marks backup `id` complete, in directory `dir` with `bytes` in all; audited as
    /// `backup.create`.
    pub async fn complete_backup(&self, id: i64, dir: &str, bytes: u64) -> Result<()> {
        let mut tx = self.write().await?;
        let row = running_backup(&mut tx, id).await?;
        let (project, actor) =
            row.ok_or_else(|| RegistryError::NotFound(format!("running backup {id}")))?;
        sqlx::query(
            "UPDATE backups SET state = 'complete', finished_at = ?, dir = ?, bytes = ? \
             WHERE id = ?",
        )
        .bind(now())
        .bind(dir)
        .bind(bytes as i64)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let reason = format!("backup {id} ({bytes} bytes)");
        audit(
            &mut tx,
            &actor,
            Some(&project),
            "backup.create",
            None,
            None,
            &reason,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records backup `id`'s off-site copy: the restic snapshot it became, or why it failed
    /// (audited as `backup.offsite`, with `notes` for the admins in the same transaction).
    pub async fn set_backup_offsite(
        &self,
        id: i64,
        copy: std::result::Result<&str, &str>,
        notes: &[Note],
    ) -> Result<()> {
        let mut tx = self.write().await?;
        let (snapshot, error) = match copy {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        let res = sqlx::query(
            "UPDATE backups SET offsite = ?, offsite_error = ? WHERE id = ? AND state = 'complete'",
        )
        .bind(snapshot)
        .bind(error)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(RegistryError::NotFound(format!("complete backup {id}")));
        }
        let (project, actor): (String, String) =
            sqlx::query_as("SELECT project, actor FROM backups WHERE id = ?")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let reason = match copy {
            Ok(s) => format!("backup {id} copied off-site: restic snapshot {s}"),
            Err(e) => format!("backup {id}: off-site copy failed: {e}"),
        };
        audit(
            &mut tx,
            &actor,
            Some(&project),
            "backup.offsite",
            None,
            None,
            &reason,
        )
        .await?;
        outbox::insert(&mut tx, notes).await?;
        tx.commit().await?;
        self.notes_committed(notes.len());
        Ok(())
    }

    /// Marks backup `id` failed with `error` (only a running one), audited as `backup.failed`,
    /// storing `notes` (the admins told) in the same transaction.
    pub async fn fail_backup(&self, id: i64, error: &str, notes: &[Note]) -> Result<()> {
        let mut tx = self.write().await?;
        let row = running_backup(&mut tx, id).await?;
        let Some((project, actor)) = row else {
            return Ok(());
        };
        sqlx::query("UPDATE backups SET state = 'failed', finished_at = ?, error = ? WHERE id = ?")
            .bind(now())
            .bind(error)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let reason = format!("backup {id}: {error}");
        audit(
            &mut tx,
            &actor,
            Some(&project),
            "backup.failed",
            None,
            None,
            &reason,
        )
        .await?;
        outbox::insert(&mut tx, notes).await?;
        tx.commit().await?;
        self.notes_committed(notes.len());
        Ok(())
    }

    /// Backups, newest first: complete ones only (what may be listed, verified, restored), or
    /// every attempt with `all`; of one project or of all.
    pub async fn backups(&self, project: Option<&str>, all: bool) -> Result<Vec<BackupRow>> {
        let sql = format!(
            "{BACKUP_SELECT} WHERE (?1 IS NULL OR project = ?1) \
             AND (?2 OR state = 'complete') ORDER BY id DESC"
        );
        Ok(sqlx::query_as::<_, BackupRow>(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(all)
            .fetch_all(&self.pool)
            .await?)
    }

    /// When `project` was last purged (its latest transition into `purged` in the audit log), if
    /// it is purged now; `None` for any other project, or one deleted since.
    pub async fn purged_at(&self, project: &str) -> Result<Option<i64>> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(a.at) FROM audit_log a JOIN projects p ON p.slug = a.project \
             WHERE a.project = ? AND a.to_state = 'purged' AND p.state = 'purged'",
        )
        .bind(project)
        .fetch_one(&self.pool)
        .await?;
        Ok(at)
    }

    /// One complete backup by id.
    pub async fn backup(&self, id: i64) -> Result<BackupRow> {
        let sql = format!("{BACKUP_SELECT} WHERE id = ? AND state = 'complete'");
        sqlx::query_as::<_, BackupRow>(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("backup {id}")))
    }

    /// Forgets a backup whose files were removed (`backup prune`), audited with `reason`.
    pub async fn remove_backup(&self, id: i64, actor: &str, reason: &str) -> Result<()> {
        let mut tx = self.write().await?;
        let row: Option<(String,)> = sqlx::query_as("SELECT project FROM backups WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let (project,) = row.ok_or_else(|| RegistryError::NotFound(format!("backup {id}")))?;
        sqlx::query("DELETE FROM backups WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let reason = format!("backup {id}: {reason}");
        audit(
            &mut tx,
            actor,
            Some(&project),
            "backup.remove",
            None,
            None,
            &reason,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Audits something done with a backup that changes no row here (`backup.restore`).
    pub async fn audit_backup(
        &self,
        actor: &str,
        project: &str,
        action: &str,
        reason: &str,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        audit(&mut tx, actor, Some(project), action, None, None, reason).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest deployment id of a project (its revision, for a backup's manifest).
    pub async fn project_revision(&self, slug: &str) -> Result<Option<i64>> {
        let (rev,): (Option<i64>,) = sqlx::query_as(
            "SELECT MAX(d.id) FROM deployments d JOIN projects p ON p.id = d.project_id \
             WHERE p.slug = ?",
        )
        .bind(slug)
        .fetch_one(&self.pool)
        .await?;
        Ok(rev)
    }

    /// Copies the whole registry, online, to `target` (`VACUUM INTO` a temporary name, made
    /// owner-only, then renamed): a consistent copy while the server keeps writing. Secrets stay
    /// sealed in it; the key is not in it.
    pub async fn copy_to(&self, target: &std::path::Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let mut partial = target.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        let failed = |message: String| RegistryError::Backup {
            path: target.to_path_buf(),
            message,
        };
        let _ = std::fs::remove_file(&partial);
        let name = partial
            .to_str()
            .ok_or_else(|| failed("the path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO ?")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| failed(format!("cannot copy the registry: {e}")))?;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&partial, target))
            .map_err(|e| failed(e.to_string()))
    }

    /// Seals `plain` (a backup's secret variables) with the registry's key for backup `id` of
    /// `project`: only this registry's key opens it, and only as that backup's.
    pub async fn seal_for_backup(&self, id: i64, project: &str, plain: &[u8]) -> Vec<u8> {
        self.key().await.seal(plain, &backup_aad(id, project))
    }

    /// Opens what [`Registry::seal_for_backup`] sealed; [`RegistryError::Secret`] when the key is
    /// not the one it was sealed with (rotated since) or the bytes were changed.
    pub async fn open_from_backup(&self, id: i64, project: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        self.key().await.open(sealed, &backup_aad(id, project))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    #[tokio::test]
    async fn only_complete_backups_are_listed_and_a_failed_one_is_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("r.db"), SecretKey::generate())
            .await
            .unwrap();
        let a = reg.start_backup("blog", "ana").await.unwrap();
        let b = reg.start_backup("blog", "ana").await.unwrap();
        let c = reg.start_backup("wiki", "ana").await.unwrap();
        assert!(reg.backups(None, false).await.unwrap().is_empty());
        reg.complete_backup(a, "blog-1", 10).await.unwrap();
        reg.fail_backup(b, "disk full", &[]).await.unwrap();
        let listed = reg.backups(Some("blog"), false).await.unwrap();
        assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), [a]);
        assert_eq!(reg.backups(None, true).await.unwrap().len(), 3);
        assert!(matches!(
            reg.backup(b).await,
            Err(RegistryError::NotFound(_))
        ));
        // A failed backup cannot be completed afterwards.
        assert!(reg.complete_backup(b, "blog-2", 1).await.is_err());
        reg.remove_backup(a, "ana", "retention").await.unwrap();
        assert!(reg.backups(Some("blog"), false).await.unwrap().is_empty());
        let log = reg.audit_log(Some("blog")).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["backup.create", "backup.failed", "backup.remove"]);
        let _ = c;
    }

    #[tokio::test]
    async fn an_online_copy_is_a_registry_that_opens_with_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate();
        let reg = Registry::open(&dir.path().join("r.db"), key.clone())
            .await
            .unwrap();
        reg.start_backup("blog", "ana").await.unwrap();
        let copy = dir.path().join("copy.db");
        reg.copy_to(&copy).await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let reopened = Registry::open(&copy, key).await.unwrap();
        assert_eq!(reopened.backups(None, true).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn sealed_backup_secrets_open_only_as_their_own_backup() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("r.db"), SecretKey::generate())
            .await
            .unwrap();
        let sealed = reg.seal_for_backup(7, "blog", b"PASS=x").await;
        assert!(!sealed.windows(6).any(|w| w == b"PASS=x"));
        assert_eq!(
            reg.open_from_backup(7, "blog", &sealed).await.unwrap(),
            b"PASS=x"
        );
        assert!(reg.open_from_backup(8, "blog", &sealed).await.is_err());
        assert!(reg.open_from_backup(7, "wiki", &sealed).await.is_err());
    }
}
