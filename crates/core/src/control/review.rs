//! The review round trip: instead of approving or rejecting, an admin sends a request back to its
//! member with a note (`changes_requested`); the member edits it and resubmits it, which puts it
//! back in the queue (`requested`). Both moves are audited registry transitions (the lifecycle
//! table decides), and the other side hears about it. The admin socket, the CLI and the portal all
//! call these two methods.

use serde::{Deserialize, Serialize};

use super::checks::check_var_names;
use super::{Control, ControlError, Result};
use crate::notify::Note;
use clubhost_registry::{Project, ProjectEdit, ProjectState, RegistryError};
use clubhost_stack as stack;

/// Longest note an admin may send back; it is shown on the member's page and in notifications.
const MAX_NOTE: usize = 2000;

/// What the member changes when resubmitting; `None` keeps the stored value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resubmission {
    /// Name shown in the gallery and portal.
    #[serde(default)]
    pub name: Option<String>,
    /// What the project is, shown in the gallery.
    #[serde(default)]
    pub description: Option<String>,
    /// The stack file's text.
    #[serde(default)]
    pub stack: Option<String>,
    /// Replaces all of the project's variables (secret ones stay masked wherever shown).
    #[serde(default)]
    pub vars: Option<stack::Vars>,
    /// A new hosting term, counted from approval as at submission.
    #[serde(default)]
    pub days: Option<u32>,
    /// Link to the project's code (shown in the gallery).
    #[serde(default)]
    pub source_url: Option<String>,
}

impl Control {
    /// Sends a waiting request back to its member with `note` (required: the member must learn
    /// what to change). The owner is notified.
    pub async fn send_back(&self, slug: &str, actor: &str, note: &str) -> Result<Project> {
        let note = note.trim();
        if note.is_empty() {
            return Err(ControlError::Invalid(
                "note: say what should change; the member sees it".into(),
            ));
        }
        if note.chars().count() > MAX_NOTE {
            return Err(ControlError::Invalid(format!(
                "note: keep it under {MAX_NOTE} characters"
            )));
        }
        let _held = self.lock_for(slug).lock_owned().await;
        let lang = self.project_owner_lang(slug).await;
        let p = self
            .registry
            .transition_noting(slug, ProjectState::ChangesRequested, actor, note, |p| {
                self.notifier.keep(vec![Note::owner(
                    &p.owner,
                    slug,
                    self.say_in(lang, "note-sent-back-subject", &[("slug", slug)]),
                    self.say_in(
                        lang,
                        "note-sent-back-body",
                        &[("slug", slug), ("note", note)],
                    ),
                )])
            })
            .await?;
        self.publish_routes().await?;
        Ok(p)
    }

    /// Applies the member's changes to a request that was sent back and puts it back in the
    /// queue. The stack is checked with its (new) variables and the owner's quota first, as at
    /// submission: nothing is stored when a check fails. Admins are notified.
    pub async fn resubmit(&self, slug: &str, r: &Resubmission, actor: &str) -> Result<Project> {
        if let Some(vars) = &r.vars {
            check_var_names(vars)?;
        }
        if let Some(days) = r.days {
            self.check_days(days)?;
        }
        if let Some(source) = &r.stack {
            super::check_stack_size(source)?;
        }
        let _held = self.lock_for(slug).lock_owned().await;
        let project = self.registry.project(slug).await?;
        // Checked here too (the registry refuses it anyway) so a wrong state is reported as such,
        // not as a problem with the stack.
        if project.state() != ProjectState::ChangesRequested {
            return Err(RegistryError::InvalidTransition {
                slug: slug.to_string(),
                from: project.state(),
                to: ProjectState::Requested,
            }
            .into());
        }
        let source = r.stack.as_deref().unwrap_or(&project.stack_source);
        let vars = match &r.vars {
            Some(v) => v.clone(),
            None => self.registry.variables(slug).await?,
        };
        let stack = stack::load(
            source,
            &self.stack_vars(slug, &project.route, &vars),
            &self.config.limits,
        )?;
        let owner = self.registry.user(&project.owner).await?;
        self.check_quota(&owner, slug, &stack).await?;
        let edit = ProjectEdit {
            name: r.name.as_deref(),
            description: r.description.as_deref(),
            stack_source: r.stack.as_deref(),
            term_days: r.days,
            source_url: r.source_url.as_deref(),
            vars: r.vars.as_ref(),
        };
        let notes = self.notifier.keep(vec![Note::admins(
            slug,
            self.say("note-resubmitted-subject", &[("slug", slug)]),
            self.say(
                "note-resubmitted-body",
                &[
                    ("owner", &project.owner),
                    ("slug", slug),
                    ("name", r.name.as_deref().unwrap_or(&project.name)),
                ],
            ),
        )]);
        let p = self.registry.resubmit(slug, &edit, actor, &notes).await?;
        self.publish_routes().await?;
        Ok(p)
    }
}
