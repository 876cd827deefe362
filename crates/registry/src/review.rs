//! The review round trip: a request an admin sent back (`changes_requested`, the note stored by
//! [`Registry::transition`]) comes back edited. The edits, the new variables and the move back to
//! `requested` are one transaction, so the queue never sees half a resubmission.

use super::variables::set_variables_in;
use super::{Note, Project, ProjectState, Registry, Result, now, outbox, transition_in};
use clubhost_stack::Vars;

/// What a member changes before resubmitting; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct ProjectEdit<'a> {
    /// New display name.
    pub name: Option<&'a str>,
    /// New description for the review.
    pub description: Option<&'a str>,
    /// The stack file's text (a template's compose file or the member's own).
    pub stack_source: Option<&'a str>,
    /// New term length in days.
    pub term_days: Option<u32>,
    /// New source link; empty removes it.
    pub source_url: Option<&'a str>,
    /// Replaces all of the project's variables.
    pub vars: Option<&'a Vars>,
}

impl ProjectEdit<'_> {
    /// The names of the fields this edit changes, for the audit log.
    fn changed(&self) -> Vec<&'static str> {
        [
            ("name", self.name.is_some()),
            ("description", self.description.is_some()),
            ("stack", self.stack_source.is_some()),
            ("days", self.term_days.is_some()),
            ("source link", self.source_url.is_some()),
            ("variables", self.vars.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

impl Registry {
    /// Applies `edit` to a project in `changes_requested` and moves it back to `requested`, in one
    /// transaction: a project in any other state is refused (the lifecycle table decides) and
    /// nothing is changed.
    pub async fn resubmit(
        &self,
        slug: &str,
        edit: &ProjectEdit<'_>,
        actor: &str,
        notes: &[Note],
    ) -> Result<Project> {
        let changed = edit.changed();
        let reason = if changed.is_empty() {
            "resubmitted unchanged".to_string()
        } else {
            format!("resubmitted; changed: {}", changed.join(", "))
        };
        let key = self.key().await;
        let mut tx = self.write().await?;
        transition_in(&mut tx, slug, ProjectState::Requested, actor, &reason).await?;
        sqlx::query(
            "UPDATE projects SET name = COALESCE(?, name), description = COALESCE(?, description), \
             stack_source = COALESCE(?, stack_source), term_days = COALESCE(?, term_days), \
             source_url = COALESCE(?, source_url), updated_at = ? WHERE slug = ?",
        )
        .bind(edit.name)
        .bind(edit.description)
        .bind(edit.stack_source)
        .bind(edit.term_days.map(i64::from))
        .bind(edit.source_url)
        .bind(now())
        .bind(slug)
        .execute(&mut *tx)
        .await?;
        if let Some(vars) = edit.vars {
            set_variables_in(&mut tx, &key, slug, vars, actor).await?;
        }
        outbox::insert(&mut tx, notes).await?;
        tx.commit().await?;
        drop(key);
        self.notes_committed(notes.len());
        self.project(slug).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewProject, RegistryError};

    #[tokio::test]
    async fn a_sent_back_request_comes_back_edited_in_one_step() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("r.db"), crate::SecretKey::generate())
            .await
            .unwrap();
        let owner = reg.add_user("ann", false, None, "t").await.unwrap();
        reg.insert_project(
            NewProject {
                slug: "blog",
                name: "Blog",
                description: "old",
                owner_id: owner.id,
                stack_source: "services: {}",
                is_root: false,
                term_days: 30,
                source_url: "",
            },
            "ann",
        )
        .await
        .unwrap();
        let mut vars = Vars::new();
        vars.set("PW", "s3cret", true);
        let edit = ProjectEdit {
            description: Some("new"),
            vars: Some(&vars),
            ..Default::default()
        };
        // Only a sent-back request can be resubmitted; nothing changes otherwise.
        let err = reg.resubmit("blog", &edit, "ann", &[]).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::InvalidTransition { .. }),
            "{err}"
        );
        assert_eq!(reg.project("blog").await.unwrap().description, "old");

        let p = reg
            .transition(
                "blog",
                ProjectState::ChangesRequested,
                "boss",
                "use a volume",
            )
            .await
            .unwrap();
        assert_eq!(p.state(), ProjectState::ChangesRequested);
        assert_eq!(p.review_note.as_deref(), Some("use a volume"));

        let p = reg.resubmit("blog", &edit, "ann", &[]).await.unwrap();
        assert_eq!(p.state(), ProjectState::Requested);
        assert_eq!((p.name.as_str(), p.description.as_str()), ("Blog", "new"));
        assert_eq!(p.review_note.as_deref(), Some("use a volume"), "kept");
        assert_eq!(reg.variables("blog").await.unwrap(), vars);
        let log = reg.audit_log(Some("blog")).await.unwrap();
        let last: Vec<_> = log
            .iter()
            .rev()
            .take(3)
            .map(|e| e.action.as_str())
            .collect();
        assert_eq!(
            last,
            [
                "project.variables",
                "project.requested",
                "project.changes_requested"
            ]
        );
        assert!(log[log.len() - 2].reason.contains("description, variables"));
    }
}
