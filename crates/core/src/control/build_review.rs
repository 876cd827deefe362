//! What approving a project brought as files will build and copy, for the admin's review card:
//! each `build:` service's Dockerfile (its text, capped), context, target and build arguments
//! (secret variables' values masked), the files each service gets copied in, and the revision's
//! files at a glance (count, total size, the largest, the first paths). Read from the current
//! revision's folder on a blocking thread; nothing is built or written.

use serde::Serialize;

use super::{Control, ControlError, Result};
use clubhost_source::Inventory;

/// The most of one Dockerfile the card shows.
const DOCKERFILE_MAX: u64 = 64 << 10;
/// How many of the largest files, and of all paths, the card lists.
const LARGEST: usize = 5;
const LISTED: usize = 200;

/// What a build will do, service by service, and the files it works from.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReview {
    /// The revision the files are from.
    pub revision: i64,
    /// The services built from the project's files, in start order.
    pub builds: Vec<ServiceBuild>,
    /// The project's files copied into containers: `service: ./source → target (read-only)`.
    pub copied: Vec<String>,
    /// The revision's files.
    pub files: Inventory,
}

/// One `build:` service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceBuild {
    /// The service's name.
    pub service: String,
    /// The context folder, relative to the project's files (`.` is all of them).
    pub context: String,
    /// The Dockerfile, relative to the project's files.
    pub dockerfile: String,
    /// The stage built, if one is named.
    pub target: Option<String>,
    /// Build arguments, secret values masked.
    pub args: Vec<(String, String)>,
    /// The Dockerfile's text (at most 64 KiB; `truncated` says when there was more).
    pub text: String,
    /// Whether the Dockerfile went on past what `text` holds.
    pub truncated: bool,
}

impl Control {
    /// What a project's build will do, `None` for a project from a compose file alone. A stack
    /// that no longer loads still gets its files listed (the checker's verdict says why).
    pub async fn build_review(&self, slug: &str) -> Result<Option<BuildReview>> {
        let Some(source) = self.registry.source(slug).await? else {
            return Ok(None);
        };
        let project = self.registry.project(slug).await?;
        let dir = self.store().revision_dir(slug, source.revision);
        let vars = self.registry.variables(slug).await?;
        let stack = self.project_stack(&project).await.ok();
        let mut builds = Vec::new();
        let mut copied = Vec::new();
        for s in stack.iter().flat_map(|s| &s.services) {
            for f in &s.files {
                let mode = if f.read_only { " (read-only)" } else { "" };
                copied.push(format!("{}: ./{} → {}{mode}", s.name, f.source, f.target));
            }
            let Some(b) = &s.build else { continue };
            let dockerfile = if b.context == "." {
                b.dockerfile.clone()
            } else {
                format!("{}/{}", b.context, b.dockerfile)
            };
            builds.push(ServiceBuild {
                service: s.name.clone(),
                context: b.context.clone(),
                target: b.target.clone(),
                args: b
                    .args
                    .iter()
                    .map(|(k, v)| (k.clone(), vars.redact(v)))
                    .collect(),
                text: String::new(),
                truncated: false,
                dockerfile,
            });
        }
        let (builds, files) = tokio::task::spawn_blocking(move || {
            let builds = builds
                .into_iter()
                .map(|mut b| {
                    let (text, truncated) = read_capped(&dir.join(&b.dockerfile));
                    b.text = vars.redact(&text);
                    b.truncated = truncated;
                    b
                })
                .collect::<Vec<_>>();
            let files = clubhost_source::inventory(&dir, LARGEST, LISTED);
            (builds, files)
        })
        .await
        .map_err(|e| ControlError::Internal(format!("reading the project's files: {e}")))?;
        let files = files.map_err(|e| ControlError::Internal(e.to_string()))?;
        Ok(Some(BuildReview {
            revision: source.revision,
            builds,
            copied,
            files,
        }))
    }
}

/// A file's text, at most [`DOCKERFILE_MAX`] bytes of it (lossy UTF-8), and whether it went on;
/// an unreadable one says so instead.
fn read_capped(path: &std::path::Path) -> (String, bool) {
    use std::io::Read;
    let mut buf = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(DOCKERFILE_MAX + 1).read_to_end(&mut buf));
    match read {
        Ok(_) => {
            let truncated = buf.len() as u64 > DOCKERFILE_MAX;
            buf.truncate(DOCKERFILE_MAX as usize);
            (String::from_utf8_lossy(&buf).into_owned(), truncated)
        }
        Err(e) => (format!("(cannot read {}: {e})", path.display()), false),
    }
}
