//! A project's files (`project_sources`, `project_revisions`, migration 0011): whether they are a
//! folder or archive or a git repository, the revision deployed from, and every revision stored
//! (with its commit for git). The files themselves live under the data dir (clubhost-source);
//! the registry only says which revision is current.

use serde::Serialize;
use sqlx::FromRow;

use super::{Registry, RegistryError, Result, audit, now};

/// Where a project's files come from, and which revision it deploys.
#[derive(Debug, Clone, Serialize, FromRow)]
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
        let mut tx = self.write().await?;
        let id = project_id(&mut tx, slug).await?;
        sqlx::query(
            "INSERT INTO project_sources (project_id, kind, git_url, git_ref, stack_file, \
             revision, webhook_secret) VALUES (?, ?, ?, ?, ?, 1, ?)",
        )
        .bind(id)
        .bind(new.kind)
        .bind(new.git_url)
        .bind(new.git_ref)
        .bind(new.stack_file)
        .bind(new.webhook_secret)
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

    /// A project's files, `None` for a plain compose project.
    pub async fn source(&self, slug: &str) -> Result<Option<ProjectSource>> {
        Ok(sqlx::query_as::<_, ProjectSource>(
            "SELECT s.kind, s.git_url, s.git_ref, s.stack_file, s.revision, r.commit_id, \
             s.webhook_secret FROM project_sources s JOIN projects p ON p.id = s.project_id \
             LEFT JOIN project_revisions r ON r.project_id = s.project_id \
             AND r.revision = s.revision WHERE p.slug = ?",
        )
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?)
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
        reg.delete_project("app", "cli", "done").await.unwrap();
        assert!(reg.source("app").await.unwrap().is_none());
        assert_eq!(reg.next_revision("app").await.unwrap(), 1);
    }
}
