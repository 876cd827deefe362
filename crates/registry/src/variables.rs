//! A project's variables (`project_variables`): what its stack file's `${NAME}` are filled from.
//! Secret values are returned to the server, which needs them to deploy; callers that show
//! variables use [`clubhost_stack::Vars::masked`].

use super::{Note, Registry, RegistryError, Result, outbox};
use clubhost_stack::Vars;

impl Registry {
    /// Replaces all of a project's variables at once, and audits which names were set (never the
    /// values).
    pub async fn set_variables(&self, slug: &str, vars: &Vars, actor: &str) -> Result<()> {
        self.set_variables_noting(slug, vars, actor, &[]).await
    }

    /// [`Registry::set_variables`], storing `notes` in the outbox in the same transaction (the
    /// last step of a submission: the news of it goes out only once it is complete).
    pub async fn set_variables_noting(
        &self,
        slug: &str,
        vars: &Vars,
        actor: &str,
        notes: &[Note],
    ) -> Result<()> {
        let mut tx = self.write().await?;
        set_variables_in(&mut tx, slug, vars, actor).await?;
        outbox::insert(&mut tx, notes).await?;
        tx.commit().await?;
        self.notes_committed(notes.len());
        Ok(())
    }

    /// A project's variables (secret values included: for deploying, not for showing).
    pub async fn variables(&self, slug: &str) -> Result<Vars> {
        let rows: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT v.name, v.value, v.secret FROM project_variables v \
             JOIN projects p ON p.id = v.project_id WHERE p.slug = ? ORDER BY v.name",
        )
        .bind(slug)
        .fetch_all(&self.pool)
        .await?;
        let mut vars = Vars::new();
        for (name, value, secret) in rows {
            vars.set(&name, &value, secret);
        }
        Ok(vars)
    }
}

/// [`Registry::set_variables`] inside a caller's transaction.
pub(super) async fn set_variables_in(
    tx: &mut sqlx::SqliteConnection,
    slug: &str,
    vars: &Vars,
    actor: &str,
) -> Result<()> {
    let id: Option<(i64,)> = sqlx::query_as("SELECT id FROM projects WHERE slug = ?")
        .bind(slug)
        .fetch_optional(&mut *tx)
        .await?;
    let (id,) = id.ok_or_else(|| RegistryError::NotFound(format!("project {slug:?}")))?;
    sqlx::query("DELETE FROM project_variables WHERE project_id = ?")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for (name, var) in &vars.0 {
        sqlx::query(
            "INSERT INTO project_variables (project_id, name, value, secret) VALUES (?, ?, ?, ?)",
        )
        .bind(id)
        .bind(name)
        .bind(&var.value)
        .bind(var.secret)
        .execute(&mut *tx)
        .await?;
    }
    let names: Vec<&str> = vars.0.keys().map(String::as_str).collect();
    super::audit(
        tx,
        actor,
        Some(slug),
        "project.variables",
        None,
        None,
        &format!("set: {}", names.join(", ")),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewProject;

    #[tokio::test]
    async fn variables_round_trip_and_go_with_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("r.db")).await.unwrap();
        let owner = reg.add_user("ann", false, "t").await.unwrap();
        reg.insert_project(
            NewProject {
                slug: "blog",
                name: "blog",
                description: "",
                owner_id: owner.id,
                stack_source: "services: {}",
                is_root: false,
                term_days: 30,
                source_url: "",
            },
            "t",
        )
        .await
        .unwrap();
        let mut vars = Vars::new();
        vars.set("A", "1", false);
        vars.set("PW", "s3cret", true);
        reg.set_variables("blog", &vars, "t").await.unwrap();
        assert_eq!(reg.variables("blog").await.unwrap(), vars);
        let mut fewer = Vars::new();
        fewer.set("A", "2", false);
        reg.set_variables("blog", &fewer, "t").await.unwrap();
        assert_eq!(reg.variables("blog").await.unwrap(), fewer);
        reg.delete_project("blog", "t", "").await.unwrap();
        assert!(reg.variables("blog").await.unwrap().0.is_empty());
        assert!(reg.set_variables("blog", &fewer, "t").await.is_err());
    }
}
