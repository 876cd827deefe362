//! A project's variables (`project_variables`): what its stack file's `${NAME}` are filled from.
//! Secret values are returned to the server, which needs them to deploy; callers that show
//! variables use [`clubhost_stack::Vars::masked`].
//!
//! Secret values are stored sealed (`sealed`, migration 0008; `value` left empty) with the
//! registry's key ([`crate::secrets`]): the database file never holds one in plain text. Sealing
//! and opening happen here, so no other code sees ciphertext.

use super::secrets::{SecretKey, variable_aad};
use super::{Note, Registry, RegistryError, Result, outbox};
use clubhost_stack::Vars;

/// A `project_variables` row: project id, name, value, secret, sealed value.
type StoredVariable = (i64, String, String, bool, Option<Vec<u8>>);

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
        let key = self.key().await;
        let mut tx = self.write().await?;
        set_variables_in(&mut tx, &key, slug, vars, actor).await?;
        outbox::insert(&mut tx, notes).await?;
        tx.commit().await?;
        drop(key);
        self.notes_committed(notes.len());
        Ok(())
    }

    /// A project's variables (secret values included: for deploying, not for showing).
    pub async fn variables(&self, slug: &str) -> Result<Vars> {
        let key = self.key().await;
        let rows: Vec<StoredVariable> = sqlx::query_as(
            "SELECT v.project_id, v.name, v.value, v.secret, v.sealed FROM project_variables v \
             JOIN projects p ON p.id = v.project_id WHERE p.slug = ? ORDER BY v.name",
        )
        .bind(slug)
        .fetch_all(&self.pool)
        .await?;
        let mut vars = Vars::new();
        for (project, name, value, secret, sealed) in rows {
            let value = match sealed {
                Some(sealed) => {
                    let aad = variable_aad(project, &name);
                    let plain = key.open(&sealed, &aad)?;
                    String::from_utf8(plain).map_err(|_| {
                        RegistryError::Secret(format!("{aad}: decrypted value is not UTF-8"))
                    })?
                }
                None => value,
            };
            vars.set(&name, &value, secret);
        }
        Ok(vars)
    }
}

/// [`Registry::set_variables`] inside a caller's transaction.
pub(super) async fn set_variables_in(
    tx: &mut sqlx::SqliteConnection,
    key: &SecretKey,
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
        let (value, sealed) = if var.secret {
            let aad = variable_aad(id, name);
            (String::new(), Some(key.seal(var.value.as_bytes(), &aad)))
        } else {
            (var.value.clone(), None)
        };
        sqlx::query(
            "INSERT INTO project_variables (project_id, name, value, secret, sealed) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(name)
        .bind(value)
        .bind(var.secret)
        .bind(sealed)
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
        let path = dir.path().join("r.db");
        let key = SecretKey::generate();
        let reg = Registry::open(&path, key.clone()).await.unwrap();
        let owner = reg.add_user("ann", false, None, "t").await.unwrap();
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
        // Stored sealed: the plain value is nowhere in the database, and a new key opens all.
        let stored: Vec<(String, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT value, sealed FROM project_variables WHERE name = 'PW'")
                .fetch_all(&reg.pool)
                .await
                .unwrap();
        assert_eq!(stored[0].0, "");
        assert!(stored[0].1.as_ref().is_some_and(|s| s.len() > 24));
        reg.rotate_key(SecretKey::generate(), "t").await.unwrap();
        assert_eq!(reg.variables("blog").await.unwrap(), vars);
        reg.pool.close().await;
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(6).any(|w| w == b"s3cret"));
        // The old key no longer opens this registry.
        let err = Registry::open(&path, key).await.err().unwrap();
        assert!(matches!(err, RegistryError::WrongKey), "{err}");
        let reg = Registry::open(&path, reg.key().await.clone())
            .await
            .unwrap();
        let mut fewer = Vars::new();
        fewer.set("A", "2", false);
        reg.set_variables("blog", &fewer, "t").await.unwrap();
        assert_eq!(reg.variables("blog").await.unwrap(), fewer);
        reg.delete_project("blog", "t", "").await.unwrap();
        assert!(reg.variables("blog").await.unwrap().0.is_empty());
        assert!(reg.set_variables("blog", &fewer, "t").await.is_err());
    }
}
