//! Members' own domains (issue 16, migration 0013): a name a project's owner added, its proof
//! token, and whether the proof passed. Only verified names are routed and get a certificate;
//! the rules a name must follow are checked by the caller (clubhost-core) before it gets here,
//! except that a name is taken once (the primary key), which is checked here in the insert.

use serde::Serialize;
use sqlx::FromRow;

use super::{Registry, RegistryError, Result, audit, is_unique_violation};

/// One member's domain.
#[derive(Debug, Clone, Serialize, FromRow, PartialEq, Eq)]
pub struct Domain {
    /// The DNS name, lowercase.
    pub name: String,
    /// The project it belongs to.
    pub project: String,
    /// What `http://<name>/.well-known/clubhost-domain/<token>` must answer.
    pub token: String,
    /// When it was added.
    pub created_at: i64,
    /// When the proof passed; `None` while pending (not routed).
    pub verified_at: Option<i64>,
    /// When it was last checked.
    pub last_check_at: Option<i64>,
    /// Why the last check failed; `None` after a success.
    pub last_error: Option<String>,
}

const SELECT: &str = "SELECT d.name, p.slug AS project, d.token, d.created_at, d.verified_at, \
                      d.last_check_at, d.last_error FROM project_domains d \
                      JOIN projects p ON p.id = d.project_id";

impl Registry {
    /// Adds `name` (lowercase, already checked) to `project`, pending, with its proof `token`;
    /// audited as `domain.add`. A name another project (or this one) has is a conflict.
    pub async fn add_domain(
        &self,
        project: &str,
        name: &str,
        token: &str,
        actor: &str,
    ) -> Result<Domain> {
        let mut tx = self.write().await?;
        let id: Option<(i64,)> = sqlx::query_as("SELECT id FROM projects WHERE slug = ?")
            .bind(project)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((id,)) = id else {
            return Err(RegistryError::NotFound(format!("project {project:?}")));
        };
        let inserted = sqlx::query(
            "INSERT INTO project_domains (name, project_id, token, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(name)
        .bind(id)
        .bind(token)
        .bind(crate::now())
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(RegistryError::Conflict(format!(
                    "the domain {name} is already taken"
                )));
            }
            other => {
                other?;
            }
        }
        audit(
            &mut tx,
            actor,
            Some(project),
            "domain.add",
            None,
            None,
            name,
        )
        .await?;
        tx.commit().await?;
        self.domain(name).await
    }

    /// The domain `name`.
    pub async fn domain(&self, name: &str) -> Result<Domain> {
        let sql = format!("{SELECT} WHERE d.name = ?");
        sqlx::query_as::<_, Domain>(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("domain {name:?}")))
    }

    /// Every domain, of one project or of all, by project then name.
    pub async fn domains(&self, project: Option<&str>) -> Result<Vec<Domain>> {
        let sql = format!("{SELECT} WHERE (?1 IS NULL OR p.slug = ?1) ORDER BY p.slug, d.name");
        Ok(sqlx::query_as::<_, Domain>(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Records a check of `name`: `Ok` marks it verified (audited as `domain.verify` the first
    /// time), an error is kept as its last error (a verified name stays verified: its owner
    /// proved control once, and a passing outage must not take the route away).
    pub async fn record_domain_check(
        &self,
        name: &str,
        outcome: std::result::Result<(), &str>,
        actor: &str,
    ) -> Result<Domain> {
        let mut tx = self.write().await?;
        let now = crate::now();
        match outcome {
            Ok(()) => {
                let row: Option<(String, Option<i64>)> = sqlx::query_as(
                    "SELECT p.slug, d.verified_at FROM project_domains d \
                     JOIN projects p ON p.id = d.project_id WHERE d.name = ?",
                )
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((project, verified)) = row else {
                    return Err(RegistryError::NotFound(format!("domain {name:?}")));
                };
                sqlx::query(
                    "UPDATE project_domains SET verified_at = COALESCE(verified_at, ?1), \
                     last_check_at = ?1, last_error = NULL WHERE name = ?2",
                )
                .bind(now)
                .bind(name)
                .execute(&mut *tx)
                .await?;
                if verified.is_none() {
                    let action = "domain.verify";
                    audit(&mut tx, actor, Some(&project), action, None, None, name).await?;
                }
            }
            Err(error) => {
                sqlx::query(
                    "UPDATE project_domains SET last_check_at = ?, last_error = ? WHERE name = ?",
                )
                .bind(now)
                .bind(error)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        self.domain(name).await
    }

    /// Removes `name` from `project` (audited as `domain.remove`); not found if it is not that
    /// project's.
    pub async fn remove_domain(&self, project: &str, name: &str, actor: &str) -> Result<()> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "DELETE FROM project_domains WHERE name = ? \
             AND project_id = (SELECT id FROM projects WHERE slug = ?)",
        )
        .bind(name)
        .bind(project)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(RegistryError::NotFound(format!(
                "domain {name:?} of project {project:?}"
            )));
        }
        audit(
            &mut tx,
            actor,
            Some(project),
            "domain.remove",
            None,
            None,
            name,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_domain_is_pending_until_checked_taken_once_and_gone_with_its_project() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(&dir.path().join("r.db"), crate::SecretKey::generate())
            .await
            .unwrap();
        let owner = r.add_user("ana", false, None, "cli").await.unwrap();
        for slug in ["blog", "shop"] {
            r.insert_project(crate::tests::new_project(slug, owner.id), "ana")
                .await
                .unwrap();
        }
        let d = r
            .add_domain("blog", "blog.ana.example", "t1", "ana")
            .await
            .unwrap();
        assert_eq!(d.project, "blog");
        assert_eq!(d.verified_at, None);
        let e = r
            .add_domain("shop", "blog.ana.example", "t2", "ana")
            .await
            .unwrap_err();
        assert!(matches!(e, RegistryError::Conflict(_)), "{e}");
        let d = r
            .record_domain_check("blog.ana.example", Err("no answer"), "ana")
            .await
            .unwrap();
        assert_eq!(d.last_error.as_deref(), Some("no answer"));
        assert_eq!(d.verified_at, None);
        let d = r
            .record_domain_check("blog.ana.example", Ok(()), "ana")
            .await
            .unwrap();
        assert!(d.verified_at.is_some());
        assert_eq!(d.last_error, None);
        let e = r
            .remove_domain("shop", "blog.ana.example", "ana")
            .await
            .unwrap_err();
        assert!(matches!(e, RegistryError::NotFound(_)), "not shop's: {e}");
        r.add_domain("shop", "shop.ana.example", "t3", "ana")
            .await
            .unwrap();
        r.delete_project("shop", "admin", "test").await.unwrap();
        let left: Vec<_> = r
            .domains(None)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(
            left,
            ["blog.ana.example"],
            "the project's names went with it"
        );
        r.remove_domain("blog", "blog.ana.example", "ana")
            .await
            .unwrap();
        assert!(r.domains(Some("blog")).await.unwrap().is_empty());
        let actions: Vec<_> = r
            .audit_log(Some("blog"))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        for a in ["domain.add", "domain.verify", "domain.remove"] {
            assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
        }
    }
}
