//! A project's files (`project_sources`, `project_revisions`, migration 0011): whether they are a
//! folder or archive or a git repository, the revision deployed from, and every revision stored
//! (with its commit for git). The files themselves live under the data dir (clubhost-source);
//! the registry only says which revision is current and which one the serving deployment was
//! made from (migration 0012).
//!
//! A git project's webhook secret is sealed like a secret variable (migration 0012,
//! `webhook_sealed`, bound to `project_sources/<project id>/webhook`); only this module and
//! `secrets` (sealing plain ones at open, re-sealing at a key rotation) see the ciphertext.

use serde::Serialize;

use super::{Registry, RegistryError, Result, audit, now};
use crate::SecretKey;

/// Where a project's files come from, and which revision it deploys.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectSource {
    /// `files` (a folder or an archive) or `git`.
    pub kind: String,
    /// The repository, for `git`.
    pub git_url: Option<String>,
    /// The branch or tag, for `git`; `None` is the default branch.
    pub git_ref: Option<String>,
    /// The stack file named at submission, if one was.
    pub stack_file: Option<String>,
    /// The current revision (its folder is `<slug>/<revision>`).
    pub revision: i64,
    /// The commit of the current revision, for `git`.
    pub commit_id: Option<String>,
    /// The revision the serving deployment was made from, once one deploy succeeded.
    pub deployed_revision: Option<i64>,
    /// The webhook's secret (git projects). Not serialized: shown to the owner on purpose only.
    #[serde(skip)]
    pub webhook_secret: Option<String>,
}

/// What a submission with files records.
#[derive(Debug, Clone)]
pub struct NewSource<'a> {
    /// `files` or `git`.
    pub kind: &'a str,
    /// The repository, for `git`.
    pub git_url: Option<&'a str>,
    /// The branch or tag, for `git`.
    pub git_ref: Option<&'a str>,
    /// The stack file named at submission.
    pub stack_file: Option<&'a str>,
    /// The commit of revision 1, for `git`.
    pub commit_id: Option<&'a str>,
    /// The webhook's secret, for `git`.
    pub webhook_secret: Option<&'a str>,
}

impl Registry {
    /// Records a new project's files as its revision 1.
    pub async fn insert_source(&self, slug: &str, new: NewSource<'_>, actor: &str) -> Result<()> {
        let key = self.key().await;
        let mut tx = self.write().await?;
        let id = project_id(&mut tx, slug).await?;
        let sealed = new
            .webhook_secret
            .map(|s| key.seal(s.as_bytes(), &webhook_aad(id)));
        sqlx::query(
            "INSERT INTO project_sources (project_id, kind, git_url, git_ref, stack_file, \
             revision, webhook_sealed) VALUES (?, ?, ?, ?, ?, 1, ?)",
        )
        .bind(id)
        .bind(new.kind)
        .bind(new.git_url)
        .bind(new.git_ref)
        .bind(new.stack_file)
        .bind(sealed)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO project_revisions (project_id, revision, commit_id, created_at) \
             VALUES (?, 1, ?, ?)",
        )
        .bind(id)
        .bind(new.commit_id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let what = match new.commit_id {
            Some(c) => format!("{} revision 1 (commit {c})", new.kind),
            None => format!("{} revision 1", new.kind),
        };
        audit(
            &mut tx,
            actor,
            Some(slug),
            "project.files",
            None,
            None,
            &what,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A project's files, `None` for a plain compose project. The webhook secret comes opened.
    pub async fn source(&self, slug: &str) -> Result<Option<ProjectSource>> {
        let Some(row) = sqlx::query_as::<_, SourceRow>(
            "SELECT s.project_id, s.kind, s.git_url, s.git_ref, s.stack_file, s.revision, \
             r.commit_id, s.deployed_revision, s.webhook_sealed FROM project_sources s \
             JOIN projects p ON p.id = s.project_id \
             LEFT JOIN project_revisions r ON r.project_id = s.project_id \
             AND r.revision = s.revision WHERE p.slug = ?",
        )
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let webhook_secret = match &row.webhook_sealed {
            Some(sealed) => {
                let plain = self
                    .key()
                    .await
                    .open(sealed, &webhook_aad(row.project_id))?;
                Some(String::from_utf8(plain).map_err(|_| {
                    RegistryError::Secret(format!("{slug}'s webhook secret is not UTF-8"))
                })?)
            }
            None => None,
        };
        Ok(Some(ProjectSource {
            kind: row.kind,
            git_url: row.git_url,
            git_ref: row.git_ref,
            stack_file: row.stack_file,
            revision: row.revision,
            commit_id: row.commit_id,
            deployed_revision: row.deployed_revision,
            webhook_secret,
        }))
    }

    /// Replaces a git project's webhook secret (sealed), audited without the value. The old
    /// secret stops working at once.
    pub async fn set_webhook_secret(&self, slug: &str, secret: &str, actor: &str) -> Result<()> {
        let key = self.key().await;
        let mut tx = self.write().await?;
        let id = project_id(&mut tx, slug).await?;
        let done = sqlx::query(
            "UPDATE project_sources SET webhook_sealed = ?, webhook_secret = NULL \
             WHERE project_id = ? AND kind = 'git'",
        )
        .bind(key.seal(secret.as_bytes(), &webhook_aad(id)))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(RegistryError::NotFound(format!(
                "a webhook for {slug:?} (only projects from git have one)"
            )));
        }
        audit(
            &mut tx,
            actor,
            Some(slug),
            "project.webhook_secret",
            None,
            None,
            "new webhook secret",
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that `revision`'s deployment of the project now serves.
    pub async fn set_deployed_revision(&self, slug: &str, revision: i64) -> Result<()> {
        sqlx::query(
            "UPDATE project_sources SET deployed_revision = ? \
             WHERE project_id = (SELECT id FROM projects WHERE slug = ?)",
        )
        .bind(revision)
        .bind(slug)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The number the next revision of a project's files takes (one past every stored one).
    pub async fn next_revision(&self, slug: &str) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(MAX(r.revision), 0) + 1 FROM project_revisions r \
             JOIN projects p ON p.id = r.project_id WHERE p.slug = ?",
        )
        .bind(slug)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// Makes `revision` (whose files were just stored) the project's current one, with its
    /// stack file's text, audited.
    pub async fn add_revision(
        &self,
        slug: &str,
        revision: i64,
        commit_id: Option<&str>,
        stack_source: &str,
        actor: &str,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        let id = project_id(&mut tx, slug).await?;
        sqlx::query(
            "INSERT INTO project_revisions (project_id, revision, commit_id, created_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(id)
        .bind(revision)
        .bind(commit_id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE project_sources SET revision = ? WHERE project_id = ?")
            .bind(revision)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE projects SET stack_source = ?, updated_at = ? WHERE id = ?")
            .bind(stack_source)
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let what = match commit_id {
            Some(c) => format!("revision {revision} (commit {c})"),
            None => format!("revision {revision}"),
        };
        audit(
            &mut tx,
            actor,
            Some(slug),
            "project.pull",
            None,
            None,
            &what,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A `project_sources` row as stored, the webhook secret still sealed.
#[derive(sqlx::FromRow)]
struct SourceRow {
    project_id: i64,
    kind: String,
    git_url: Option<String>,
    git_ref: Option<String>,
    stack_file: Option<String>,
    revision: i64,
    commit_id: Option<String>,
    deployed_revision: Option<i64>,
    webhook_sealed: Option<Vec<u8>>,
}

/// Where a project's sealed webhook secret is bound.
fn webhook_aad(project_id: i64) -> String {
    format!("project_sources/{project_id}/webhook")
}

/// Seals webhook secrets stored in plain text (a registry from before migration 0012), inside
/// the open's transaction. Returns how many it sealed.
pub(crate) async fn seal_plain_in(tx: &mut sqlx::SqliteConnection, key: &SecretKey) -> Result<u64> {
    let plain: Vec<(i64, String)> = sqlx::query_as(
        "SELECT project_id, webhook_secret FROM project_sources WHERE webhook_secret IS NOT NULL",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (id, secret) in &plain {
        sqlx::query(
            "UPDATE project_sources SET webhook_sealed = ?, webhook_secret = NULL \
             WHERE project_id = ?",
        )
        .bind(key.seal(secret.as_bytes(), &webhook_aad(*id)))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(plain.len() as u64)
}

/// Re-seals every webhook secret with `new`, inside a key rotation's transaction.
pub(crate) async fn rotate_in(
    tx: &mut sqlx::SqliteConnection,
    old: &SecretKey,
    new: &SecretKey,
) -> Result<u64> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT project_id, webhook_sealed FROM project_sources WHERE webhook_sealed IS NOT NULL",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (id, sealed) in &rows {
        let aad = webhook_aad(*id);
        let plain = old.open(sealed, &aad)?;
        sqlx::query("UPDATE project_sources SET webhook_sealed = ? WHERE project_id = ?")
            .bind(new.seal(&plain, &aad))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(rows.len() as u64)
}

async fn project_id(tx: &mut sqlx::SqliteConnection, slug: &str) -> Result<i64> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM projects WHERE slug = ?")
        .bind(slug)
        .fetch_optional(&mut *tx)
        .await?;
    row.map(|(id,)| id)
        .ok_or_else(|| RegistryError::NotFound(format!("project {slug:?}")))
}

#[cfg(test)]
mod tests {
    use super::super::{NewProject, SecretKey};
    use super::*;

    #[tokio::test]
    async fn revisions_advance_and_go_with_their_project() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("t.db"), SecretKey::generate())
            .await
            .unwrap();
        let u = reg.add_user("ana", false, None, "cli").await.unwrap();
        let new = NewProject {
            slug: "app",
            name: "app",
            description: "",
            owner_id: u.id,
            stack_source: "services: {}",
            is_root: false,
            term_days: 30,
            source_url: "",
        };
        reg.insert_project(new, "ana").await.unwrap();
        assert!(reg.source("app").await.unwrap().is_none());
        let git = NewSource {
            kind: "git",
            git_url: Some("https://example.org/r.git"),
            git_ref: Some("main"),
            stack_file: None,
            commit_id: Some("aaa"),
            webhook_secret: Some("s3cret"),
        };
        reg.insert_source("app", git, "ana").await.unwrap();
        let s = reg.source("app").await.unwrap().unwrap();
        assert_eq!((s.revision, s.commit_id.as_deref()), (1, Some("aaa")));
        assert_eq!(s.webhook_secret.as_deref(), Some("s3cret"));
        assert!(!serde_json::to_string(&s).unwrap().contains("s3cret"));
        assert_eq!(reg.next_revision("app").await.unwrap(), 2);
        reg.add_revision("app", 2, Some("bbb"), "services: {b: {}}", "webhook")
            .await
            .unwrap();
        let s = reg.source("app").await.unwrap().unwrap();
        assert_eq!((s.revision, s.commit_id.as_deref()), (2, Some("bbb")));
        assert_eq!(
            reg.project("app").await.unwrap().stack_source,
            "services: {b: {}}"
        );
        // A revision number is never reused.
        assert!(
            reg.add_revision("app", 2, None, "x", "webhook")
                .await
                .is_err()
        );
        let audit = reg.audit_log(Some("app")).await.unwrap();
        assert!(audit.iter().any(|a| a.action == "project.pull"));
        reg.set_deployed_revision("app", 2).await.unwrap();
        assert_eq!(
            reg.source("app").await.unwrap().unwrap().deployed_revision,
            Some(2)
        );
        reg.delete_project("app", "cli", "done").await.unwrap();
        assert!(reg.source("app").await.unwrap().is_none());
        assert_eq!(reg.next_revision("app").await.unwrap(), 1);
    }

    async fn git_project(reg: &Registry, slug: &str, secret: &str) {
        let u = match reg.add_user("ana", false, None, "cli").await {
            Ok(u) => u,
            Err(_) => reg.user("ana").await.unwrap(),
        };
        let new = NewProject {
            slug,
            name: slug,
            description: "",
            owner_id: u.id,
            stack_source: "services: {}",
            is_root: false,
            term_days: 30,
            source_url: "",
        };
        reg.insert_project(new, "ana").await.unwrap();
        let git = NewSource {
            kind: "git",
            git_url: Some("https://example.org/r.git"),
            git_ref: None,
            stack_file: None,
            commit_id: Some("aaa"),
            webhook_secret: Some(secret),
        };
        reg.insert_source(slug, git, "ana").await.unwrap();
    }

    async fn secret(reg: &Registry) -> Option<String> {
        reg.source("app").await.unwrap().unwrap().webhook_secret
    }

    fn file_has(path: &std::path::Path, needle: &[u8]) -> bool {
        let bytes = std::fs::read(path).unwrap();
        bytes.windows(needle.len()).any(|w| w == needle)
    }

    #[tokio::test]
    async fn webhook_secrets_are_sealed_replaced_rotated_and_sealed_when_found_plain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let reg = Registry::open(&path, SecretKey::generate()).await.unwrap();
        git_project(&reg, "app", "hook-secret-one").await;
        // Stored sealed only; read back opened.
        let (plain, sealed): (Option<String>, Option<Vec<u8>>) =
            sqlx::query_as("SELECT webhook_secret, webhook_sealed FROM project_sources")
                .fetch_one(&reg.pool)
                .await
                .unwrap();
        assert_eq!(plain, None);
        assert!(sealed.is_some_and(|s| s.len() > 24));
        assert_eq!(secret(&reg).await.as_deref(), Some("hook-secret-one"));
        // A new secret replaces it, audited without the value.
        reg.set_webhook_secret("app", "hook-secret-two", "ana")
            .await
            .unwrap();
        assert_eq!(secret(&reg).await.as_deref(), Some("hook-secret-two"));
        let audit = reg.audit_log(Some("app")).await.unwrap();
        let entry = audit
            .iter()
            .find(|a| a.action == "project.webhook_secret")
            .unwrap();
        assert!(!format!("{entry:?}").contains("hook-secret"));
        // A rotated key still opens it.
        reg.rotate_key(SecretKey::generate(), "cli").await.unwrap();
        assert_eq!(secret(&reg).await.as_deref(), Some("hook-secret-two"));
        // A project from files has no webhook to replace.
        assert!(reg.set_webhook_secret("nope", "x", "ana").await.is_err());

        // A registry from before migration 0012 kept the secret in plain text: sealed at open.
        sqlx::query(
            "UPDATE project_sources SET webhook_secret = 'hook-plain-three', webhook_sealed = NULL",
        )
        .execute(&reg.pool)
        .await
        .unwrap();
        let key = reg.key().await.clone();
        reg.pool.close().await;
        let reg = Registry::open(&path, key).await.unwrap();
        assert_eq!(secret(&reg).await.as_deref(), Some("hook-plain-three"));
        let (plain,): (Option<String>,) =
            sqlx::query_as("SELECT webhook_secret FROM project_sources")
                .fetch_one(&reg.pool)
                .await
                .unwrap();
        assert_eq!(plain, None);
        reg.pool.close().await;
        assert!(!file_has(&path, b"hook-plain-three"));
        assert!(!file_has(&path, b"hook-secret-two"));
    }
}
