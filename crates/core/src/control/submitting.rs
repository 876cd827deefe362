//! Requests for a hosting slot as the control plane takes them: a [`Submission`] checked and
//! recorded (nothing stored for a bad one, nothing created in Docker), the project's variables,
//! and the stack a project deploys, read with its files when it was brought as files.

use serde::{Deserialize, Serialize};

use super::checks::{check_slug, check_stack_size, check_var_names};
use super::{Control, ControlError, Result, intake};
use crate::notify::Note;
use clubhost_registry::{NewProject, Project};
use clubhost_stack as stack;

/// A member's request for a hosting slot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    /// User name of the member asking; the project's owner.
    pub owner: String,
    /// The project's short name: its path `/<slug>` and the prefix of its containers and volumes.
    pub slug: String,
    /// Name shown in the gallery and portal; `None` uses the slug.
    #[serde(default)]
    pub name: Option<String>,
    /// What the project is, shown in the gallery; may be empty.
    #[serde(default)]
    pub description: String,
    /// The stack file's text.
    pub stack: String,
    /// Hosting term asked for; `None` is `projects.default_days`. At most `projects.max_days`.
    #[serde(default)]
    pub days: Option<u32>,
    /// Whether the project is the club's root site, served at `/` instead of `/<slug>`.
    #[serde(default)]
    pub root: bool,
    /// The project's variables, filled into the stack file's `${NAME}`; secret ones are masked
    /// wherever they are shown.
    #[serde(default)]
    pub vars: stack::Vars,
    /// Where the project's source lives (a link shown in the gallery); stored with the project.
    #[serde(default)]
    pub source_url: String,
}

impl Control {
    /// Records a request for a hosting slot. Checks everything first: nothing is stored for a bad
    /// submission and nothing is created in Docker.
    pub async fn submit(&self, s: &Submission, actor: &str) -> Result<Project> {
        self.submit_with(s, None, actor).await
    }

    /// [`Control::submit`], with the project's files when it brings them (`intake`: taken in and
    /// checked by [`Control::submit_files`]), kept once the project's row exists.
    pub(super) async fn submit_with(
        &self,
        s: &Submission,
        intake: Option<intake::Intake>,
        actor: &str,
    ) -> Result<Project> {
        self.check_slug(&s.slug)?;
        if intake.is_none() {
            check_stack_size(&s.stack)?;
        }
        let days = s.days.unwrap_or(self.config.projects.default_days);
        self.check_days(days)?;
        check_var_names(&s.vars)?;
        let route = if s.root {
            "/".to_string()
        } else {
            format!("/{}", s.slug)
        };
        let (stack_source, stack) = self.submission_stack(s, &route, intake.as_ref())?;
        let owner = self.registry.user(&s.owner).await?;
        self.check_quota(&owner, &s.slug, &stack).await?;
        let project = self
            .registry
            .insert_project(
                NewProject {
                    slug: &s.slug,
                    name: s.name.as_deref().unwrap_or(&s.slug),
                    description: &s.description,
                    owner_id: owner.id,
                    stack_source,
                    is_root: s.root,
                    term_days: days,
                    source_url: s.source_url.trim(),
                },
                actor,
            )
            .await?;
        self.keep_intake(&s.slug, intake, actor).await?;
        // The variables are the submission's last step; the admins' note is stored with them.
        let notes = self.notifier.keep(vec![Note::admins(
            &project.slug,
            self.say("note-request-subject", &[("slug", &project.slug)]),
            self.say(
                "note-request-body",
                &[
                    ("owner", &project.owner),
                    ("slug", &project.slug),
                    ("name", &project.name),
                    ("days", &days.to_string()),
                ],
            ),
        )]);
        let stored = self
            .registry
            .set_variables_noting(&s.slug, &s.vars, actor, &notes)
            .await;
        if let Err(e) = stored {
            // Nothing half-created: a project without its variables would not deploy.
            let _ = self
                .registry
                .delete_project(&s.slug, actor, "variables could not be stored")
                .await;
            self.forget_files(&s.slug);
            return Err(e.into());
        }
        self.publish_routes().await?;
        Ok(project)
    }

    /// [`check_slug`], and the portal's path segment (`[portal] path`) is not a project's either.
    pub fn check_slug(&self, slug: &str) -> Result<()> {
        check_slug(slug)?;
        if slug == self.config.portal.segment() {
            return Err(ControlError::Invalid(format!(
                "slug {slug:?} is where the portal lives ([portal] path); choose another"
            )));
        }
        Ok(())
    }

    /// Replaces a project's variables. The stack is checked with the new ones first, so a change
    /// that would make it fail (a missing `${X:?}`) is refused and nothing is stored. Takes
    /// effect at the next deploy.
    pub async fn set_variables(&self, slug: &str, vars: &stack::Vars, actor: &str) -> Result<()> {
        check_var_names(vars)?;
        let _held = self.lock_for(slug).lock_owned().await;
        let project = self.registry.project(slug).await?;
        stack::load(
            &project.stack_source,
            &self.stack_vars(slug, &project.route, vars),
            &self.config.limits,
        )?;
        self.registry.set_variables(slug, vars, actor).await?;
        Ok(())
    }

    /// The variables a project's stack is checked and deployed with: its own, plus
    /// `CLUBHOST_SLUG`, `CLUBHOST_PATH` (its route) and `CLUBHOST_URL` (the public URL).
    pub fn stack_vars(&self, slug: &str, route: &str, own: &stack::Vars) -> stack::Vars {
        let mut vars = own.clone();
        vars.set("CLUBHOST_SLUG", slug, false);
        vars.set("CLUBHOST_PATH", route, false);
        let url = format!(
            "{}://{}{}",
            self.config.proxy.scheme,
            self.config.domain,
            route.trim_end_matches('/')
        );
        vars.set("CLUBHOST_URL", &url, false);
        vars
    }

    /// Checks and normalizes a stored project's stack with its stored variables.
    pub async fn project_stack(&self, project: &Project) -> Result<stack::Stack> {
        let own = self.registry.variables(&project.slug).await?;
        let vars = self.stack_vars(&project.slug, &project.route, &own);
        // A project that brought its files has builds, binds, env files and secrets read from
        // its current revision; a compose file alone may name none of them.
        let stack = match self.files_of(&project.slug).await? {
            Some(dir) => stack::load_with_files(
                &project.stack_source,
                &vars,
                &self.config.limits,
                &clubhost_deploy::FolderFiles::new(&dir),
            ),
            None => stack::load(&project.stack_source, &vars, &self.config.limits),
        };
        Ok(stack?)
    }
}
