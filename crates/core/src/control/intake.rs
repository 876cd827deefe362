//! A project brought as files (an archive, a folder packed by the CLI, a git repository): taken in
//! through clubhost-source on a blocking thread, its stack file found or generated, checked with
//! the files present, and kept as `<data_dir>/projects/<slug>/<revision>/` only once the registry
//! row exists. Also "pull and redeploy" for git projects, and the webhook that asks for it
//! (GitHub's `X-Hub-Signature-256`, Gitea's `X-Gitea-Signature`, or the bare token), checked
//! before anything is fetched.

use std::path::PathBuf;

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};

use super::{Control, ControlError, Result, Submission};
use clubhost_registry::{NewSource, Project, ProjectSource, ProjectState, SecretKey};
use clubhost_source::{Caps, GitSource, SourceError, Staged, Store, Upload, lookup};
use clubhost_stack as stack;

/// A submission that brings the project's files: [`Submission`] (its `stack` is ignored: the
/// stack file comes from the files), the stack file's name if not found by name, and a git
/// repository when there is no archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FilesSubmission {
    /// Owner, slug, name, term, variables… as for a compose file.
    pub submission: Submission,
    /// `--stack`: a file at the top of the project's files.
    #[serde(default)]
    pub stack_file: Option<String>,
    /// The repository to clone, when the files are not uploaded.
    #[serde(default)]
    pub git: Option<GitRequest>,
}

/// A git repository and the branch or tag to take.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GitRequest {
    /// `https://…` (and from the CLI only, `file://…` or a local path).
    pub url: String,
    /// Branch or tag; none takes the default branch.
    #[serde(default)]
    pub reference: Option<String>,
}

/// Where the files of a submission are.
#[derive(Debug)]
pub enum ProjectFiles {
    /// An uploaded archive, already received ([`Control::upload`]).
    Archive(Upload),
    /// A repository to clone; `local` allows `file://` and paths (the CLI only, never the
    /// portal).
    Git {
        /// The repository and ref.
        request: GitRequest,
        /// Whether local repositories may be named.
        local: bool,
    },
}

/// How a webhook call proves it comes from the project's repository host.
#[derive(Debug, Clone, Copy)]
pub enum WebhookAuth<'a> {
    /// GitHub's `X-Hub-Signature-256: sha256=<hex HMAC of the body>`.
    GitHub(&'a str),
    /// Gitea's `X-Gitea-Signature: <hex HMAC of the body>`.
    Gitea(&'a str),
    /// The webhook secret itself (a bare POST with `?token=` or `Authorization: Bearer`).
    Token(&'a str),
    /// Nothing: always refused.
    Missing,
}

/// A project's files as the faces may show them.
#[derive(Debug, Clone, Serialize)]
pub struct SourceView {
    /// Where the files come from, and the current revision and commit.
    #[serde(flatten)]
    pub source: ProjectSource,
    /// The folder of the current revision on the server.
    pub folder: PathBuf,
}

/// Files taken in and checked, waiting for the project's row before they are kept.
pub(super) struct Intake {
    staged: Staged,
    stack_text: String,
    stack: stack::Stack,
    kind: &'static str,
    git: Option<GitRequest>,
    stack_file: Option<String>,
}

impl Control {
    pub(super) fn store(&self) -> Store {
        Store::new(self.config.data_dir.join("projects"))
    }

    fn caps(&self) -> Caps {
        let b = &self.config.build;
        Caps {
            max_compressed: b.max_compressed,
            max_unpacked: b.max_unpacked,
            max_files: b.max_files,
        }
    }

    /// A new upload in the data dir, capped at `[build] max_compressed` as it is written.
    pub fn upload(&self) -> Result<Upload> {
        self.store().upload(&self.caps()).map_err(source_error)
    }

    /// Records a request whose stack comes with the project's files (see [`FilesSubmission`]).
    /// Nothing is stored when anything is refused.
    pub async fn submit_files(
        &self,
        s: &FilesSubmission,
        files: ProjectFiles,
        actor: &str,
    ) -> Result<Project> {
        let sub = &s.submission;
        self.check_slug(&sub.slug)?;
        super::check_var_names(&sub.vars)?;
        let (staged, kind, git) = match files {
            ProjectFiles::Archive(upload) => {
                let (store, caps) = (self.store(), self.caps());
                let staged = blocking(move || store.stage_archive(upload.path(), &caps)).await?;
                (staged, "files", None)
            }
            ProjectFiles::Git { request, local } => {
                (self.fetch(&request, local).await?, "git", Some(request))
            }
        };
        let route = if sub.root {
            "/".to_string()
        } else {
            format!("/{}", sub.slug)
        };
        let vars = self.stack_vars(&sub.slug, &route, &sub.vars);
        let (stack_text, stack) = self.checked_stack(&staged, s.stack_file.as_deref(), &vars)?;
        let intake = Intake {
            staged,
            stack_text,
            stack,
            kind,
            git,
            stack_file: s.stack_file.clone(),
        };
        self.submit_with(sub, Some(intake), actor).await
    }

    /// Clones a repository into a staging folder (on a blocking thread: git is a child process
    /// with its own timeout).
    async fn fetch(&self, request: &GitRequest, local: bool) -> Result<Staged> {
        let source = GitSource {
            url: request.url.clone(),
            reference: request.reference.clone(),
            allow_local: local,
        };
        let (store, caps) = (self.store(), self.caps());
        let timeout = self.config.build.git_timeout;
        blocking(move || store.stage_git(&source, &caps, timeout)).await
    }

    /// The stack file of staged files, found or generated, checked with the files present: every
    /// path it names must be in the files and fit for its use.
    fn checked_stack(
        &self,
        staged: &Staged,
        stack_file: Option<&str>,
        vars: &stack::Vars,
    ) -> Result<(String, stack::Stack)> {
        let found = clubhost_source::find_stack(staged.path(), stack_file).map_err(source_error)?;
        super::check_stack_size(&found.text)?;
        let report = stack::check(&found.text, vars, &self.config.limits);
        let Some(checked) = report.stack.clone().filter(|_| report.is_ok()) else {
            // `load` carries the violations as the typed error every face already shows.
            return Err(match stack::load(&found.text, vars, &self.config.limits) {
                Err(e) => e.into(),
                Ok(_) => ControlError::Invalid("the stack file does not pass the checker".into()),
            });
        };
        let problems: Vec<String> = lookup::look(staged.path(), &report.project_files)
            .into_iter()
            .filter(|f| f.verdict != lookup::Verdict::Found)
            .map(|f| format!("line {}: {}: {}", f.line, f.path, f.message))
            .collect();
        if !problems.is_empty() {
            return Err(ControlError::Invalid(format!(
                "the stack file names files the project does not have:\n{}",
                problems.join("\n")
            )));
        }
        Ok((found.text, checked))
    }

    /// A submission's stack text and normalized stack: its intake's (checked with the files), or
    /// its compose file's.
    pub(super) fn submission_stack<'a>(
        &self,
        s: &'a Submission,
        route: &str,
        intake: Option<&'a Intake>,
    ) -> Result<(&'a str, stack::Stack)> {
        match intake {
            Some(i) => Ok((&i.stack_text, i.stack.clone())),
            None => {
                let vars = self.stack_vars(&s.slug, route, &s.vars);
                Ok((&s.stack, stack::load(&s.stack, &vars, &self.config.limits)?))
            }
        }
    }

    /// Keeps a submission's files (if it brought any) as revision 1 of the project just inserted;
    /// if they cannot be kept, the project's row goes too (nothing half-created).
    pub(super) async fn keep_intake(
        &self,
        slug: &str,
        intake: Option<Intake>,
        actor: &str,
    ) -> Result<()> {
        let Some(intake) = intake else {
            return Ok(());
        };
        let kept = self.keep_files(slug, intake, actor).await;
        if kept.is_err() {
            let _ = self
                .registry
                .delete_project(slug, actor, "project files could not be stored")
                .await;
        }
        kept
    }

    async fn keep_files(&self, slug: &str, intake: Intake, actor: &str) -> Result<()> {
        let store = self.store();
        let owned_slug = slug.to_string();
        let commit = intake.staged.commit.clone();
        blocking(move || intake.staged.keep(&store, &owned_slug, 1)).await?;
        let secret = intake.git.as_ref().map(|_| SecretKey::generate().to_hex());
        let recorded = self
            .registry
            .insert_source(
                slug,
                NewSource {
                    kind: intake.kind,
                    git_url: intake.git.as_ref().map(|g| g.url.as_str()),
                    git_ref: intake.git.as_ref().and_then(|g| g.reference.as_deref()),
                    stack_file: intake.stack_file.as_deref(),
                    commit_id: commit.as_deref(),
                    webhook_secret: secret.as_deref(),
                },
                actor,
            )
            .await;
        if let Err(e) = recorded {
            let _ = self.store().remove_project(slug);
            return Err(e.into());
        }
        Ok(())
    }

    /// The folder a project deploys from, `None` for a plain compose project.
    pub(super) async fn files_of(&self, slug: &str) -> Result<Option<PathBuf>> {
        Ok(self
            .registry
            .source(slug)
            .await?
            .map(|s| self.store().revision_dir(slug, s.revision)))
    }

    /// Removes a deleted project's files (a failure is logged: they are orphans, not state).
    pub(super) fn forget_files(&self, slug: &str) {
        if let Err(e) = self.store().remove_project(slug) {
            tracing::warn!(%slug, error = %e, "cannot remove a deleted project's files");
        }
    }

    /// Where a project's files come from, for its owner and the admins; `None` for a plain
    /// compose project. Carries the webhook secret: show it to the owner only.
    pub async fn source(&self, slug: &str) -> Result<Option<SourceView>> {
        Ok(self.registry.source(slug).await?.map(|source| SourceView {
            folder: self.store().revision_dir(slug, source.revision),
            source,
        }))
    }

    /// Fetches a git project's repository again as a new revision and, if the project is
    /// deployed (or failed, or stopped), redeploys it beside the serving one. A fetch or check
    /// that fails changes nothing: the old revision keeps serving.
    pub async fn pull(&self, slug: &str, actor: &str) -> Result<Project> {
        let revision = {
            let _held = self.lock_for(slug).lock_owned().await;
            let project = self.registry.project(slug).await?;
            let Some(source) = self.registry.source(slug).await? else {
                return Err(ControlError::Invalid(format!(
                    "{slug} is not a project from git; submit its files again instead"
                )));
            };
            let Some(url) = source.git_url.clone().filter(|_| source.kind == "git") else {
                return Err(ControlError::Invalid(format!(
                    "{slug}'s files were uploaded, not cloned: there is nothing to pull"
                )));
            };
            // The URL was accepted at submission (a local one only from the CLI): the same
            // repository may be fetched again.
            let request = GitRequest {
                url,
                reference: source.git_ref.clone(),
            };
            let local = !request.url.starts_with("https://");
            let staged = self.fetch(&request, local).await?;
            let own = self.registry.variables(slug).await?;
            let vars = self.stack_vars(slug, &project.route, &own);
            let (text, _) = self.checked_stack(&staged, source.stack_file.as_deref(), &vars)?;
            let revision = self.registry.next_revision(slug).await?;
            let commit = staged.commit.clone();
            let (store, owned) = (self.store(), slug.to_string());
            let kept = blocking(move || staged.keep(&store, &owned, revision)).await?;
            let added = self
                .registry
                .add_revision(slug, revision, commit.as_deref(), &text, actor)
                .await;
            if let Err(e) = added {
                let _ = std::fs::remove_dir_all(&kept);
                return Err(e.into());
            }
            (revision, project.state())
        };
        tracing::info!(%slug, revision = revision.0, "pulled a new revision");
        match revision.1 {
            ProjectState::Running | ProjectState::Failed | ProjectState::Stopped => {
                self.redeploy(slug, actor).await
            }
            _ => Ok(self.registry.project(slug).await?),
        }
    }

    /// Gives a git project's webhook a new random secret (the old one stops working at once) and
    /// returns it. Audited without the value. The caller has checked that `actor` owns the project
    /// or is an admin.
    pub async fn new_webhook_secret(&self, slug: &str, actor: &str) -> Result<String> {
        let _held = self.lock_for(slug).lock_owned().await;
        let secret = SecretKey::generate().to_hex();
        self.registry
            .set_webhook_secret(slug, &secret, actor)
            .await?;
        Ok(secret)
    }

    /// Checks a webhook call against the project's secret: GitHub's or Gitea's HMAC-SHA256 of
    /// `body`, or the bare token. A wrong or missing proof, or a project with no webhook, is
    /// [`ControlError::Forbidden`] (the same answer, so a caller learns nothing); nothing is
    /// fetched.
    pub async fn check_webhook(
        &self,
        slug: &str,
        auth: WebhookAuth<'_>,
        body: &[u8],
    ) -> Result<()> {
        let refused = || ControlError::Forbidden("wrong or missing webhook signature".into());
        let secret = match self.registry.source(slug).await {
            Ok(Some(s)) => s.webhook_secret.ok_or_else(refused)?,
            _ => return Err(refused()),
        };
        let hmac_ok = |hex: &str| {
            let Some(sig) = from_hex(hex.trim()) else {
                return false;
            };
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes any key length");
            mac.update(body);
            mac.verify_slice(&sig).is_ok()
        };
        let ok = match auth {
            WebhookAuth::GitHub(h) => h.strip_prefix("sha256=").is_some_and(hmac_ok),
            WebhookAuth::Gitea(h) => hmac_ok(h),
            WebhookAuth::Token(t) => constant_time_eq(t.as_bytes(), secret.as_bytes()),
            WebhookAuth::Missing => false,
        };
        if ok { Ok(()) } else { Err(refused()) }
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A refusal of the files is the caller's to fix; a failing disk is the server's.
fn source_error(e: SourceError) -> ControlError {
    if e.is_internal() {
        ControlError::Internal(e.to_string())
    } else {
        ControlError::Invalid(e.to_string())
    }
}

/// File work on a blocking thread, so the runtime keeps serving while an archive unpacks or git
/// runs.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::result::Result<T, SourceError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ControlError::Internal(format!("file intake stopped: {e}")))?
        .map_err(source_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_comparison() {
        assert_eq!(from_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
