//! Building the images of a stack's `build:` services before any container is created: one
//! build at a time per free slot of the caller's [`BuildQueue`] (shared across projects; the
//! queue position is told as progress), under the club's [`BuildLimits`], the log streamed line
//! by line as progress and its last lines kept for a failed deploy's reason.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clubhost_docker::{BuildJob, Engine};
use clubhost_stack::Stack;
use tokio::sync::Semaphore;

use super::{DeployError, DeployRequest, Progress};

/// How many lines of a failed build's log its deploy's reason keeps.
pub const KEPT_LOG_LINES: usize = 30;

/// Lines of one build's log told as progress (each at most [`MAX_LINE`] bytes): the feed keeps
/// a deploy's steps in memory, so a build that prints without end must not grow it without end.
const MAX_TOLD_LINES: usize = 2_000;
const MAX_LINE: usize = 1_000;

/// The build slots of a server: `concurrency` builds run at once, across projects; the others
/// wait their turn. The caller owns it and passes it to every deploy.
#[derive(Debug)]
pub struct BuildQueue {
    slots: Semaphore,
    waiting: AtomicUsize,
}

impl BuildQueue {
    /// A queue that lets `concurrency` builds (at least one) run at once.
    pub fn new(concurrency: usize) -> BuildQueue {
        BuildQueue {
            slots: Semaphore::new(concurrency.max(1)),
            waiting: AtomicUsize::new(0),
        }
    }
}

/// The limits each image build runs under (`[build]`).
#[derive(Debug, Clone)]
pub struct BuildLimits {
    /// Memory of each build step, in bytes; a step past it is killed and the build fails saying
    /// so.
    pub memory: u64,
    /// CPUs a build may use.
    pub cpus: f64,
    /// How long one build may take before it is stopped.
    pub timeout: Duration,
    /// Whether build steps reach the network.
    pub network: bool,
    /// Dangling build images and build cache are pruned past this many bytes after a build.
    pub cache_max: u64,
    /// The server's build slots.
    pub queue: Arc<BuildQueue>,
}

impl Default for BuildLimits {
    /// `[build]`'s defaults: 2 GiB, one CPU, 15 minutes, network on, 10 GiB of cache, one build
    /// at a time (a queue of its own: pass the server's to share it).
    fn default() -> Self {
        BuildLimits {
            memory: 2 << 30,
            cpus: 1.0,
            timeout: Duration::from_secs(15 * 60),
            network: true,
            cache_max: 10 << 30,
            queue: Arc::new(BuildQueue::new(1)),
        }
    }
}

/// The tag a built service's image gets: per project, service and deployment (each deployment
/// builds the revision it deploys), and never a name the member chose, so a build can never
/// replace an image another project uses.
pub fn built_image(slug: &str, service: &str, deployment: i64) -> String {
    format!("clubhost/{slug}/{service}:{deployment}")
}

/// The image each service runs in this deployment: its `image:`, or the one built for it.
pub fn service_image(slug: &str, deployment: i64, svc: &clubhost_stack::ServiceSpec) -> String {
    if svc.build.is_some() {
        built_image(slug, &svc.name, deployment)
    } else {
        svc.image.clone()
    }
}

/// The stack with each built service's image set to its tag.
pub(crate) fn with_built_images(stack: &Stack, slug: &str, deployment: i64) -> Stack {
    let mut out = stack.clone();
    for svc in &mut out.services {
        svc.image = service_image(slug, deployment, svc);
    }
    out
}

/// Builds every service with `build:`, in stack order.
pub(crate) async fn build_services(
    engine: &Engine,
    req: &DeployRequest<'_>,
) -> Result<(), DeployError> {
    let tell = req.progress;
    let mut built = false;
    for svc in &req.stack.services {
        let Some(build) = &svc.build else { continue };
        let fail = |message: String, log: String| DeployError::Build {
            service: svc.name.clone(),
            message,
            log,
        };
        let Some(root) = req.files else {
            return Err(fail(
                "`build:` needs the project's files, and this project was submitted without them"
                    .into(),
                String::new(),
            ));
        };
        // The labels as one line at the end of the Dockerfile: one build step instead of one per
        // label. With a `target:` the last stage may not be the one built: the builder adds them.
        let labelled = build.target.is_none();
        let tail = labelled.then(|| engine.label_line(req.slug));
        let context =
            super::files::context_tar(root, &build.context, &build.dockerfile, tail.as_deref())
                .map_err(|m| fail(m, String::new()))?;
        let image = built_image(req.slug, &svc.name, req.deployment);
        let queue = &req.build.queue;
        let _slot = match queue.slots.try_acquire() {
            Ok(slot) => slot,
            Err(_) => {
                let position = queue.waiting.fetch_add(1, Ordering::SeqCst) + 1;
                tell(Progress::BuildQueued {
                    service: svc.name.clone(),
                    position,
                });
                let slot = queue.slots.acquire().await;
                queue.waiting.fetch_sub(1, Ordering::SeqCst);
                slot.map_err(|_| fail("the build queue is closed".into(), String::new()))?
            }
        };
        tell(Progress::Building {
            service: svc.name.clone(),
            image: image.clone(),
        });
        let job = BuildJob {
            tag: &image,
            project: req.slug,
            dockerfile: &build.dockerfile,
            args: &build.args,
            target: build.target.as_deref(),
            memory: req.build.memory,
            cpus: req.build.cpus,
            network: req.build.network,
            timeout: req.build.timeout,
            labelled,
        };
        let mut last: VecDeque<String> = VecDeque::with_capacity(KEPT_LOG_LINES);
        let mut lines = 0;
        let mut log = |line: &str| {
            let mut line = line.to_string();
            if line.len() > MAX_LINE {
                let mut end = MAX_LINE;
                while !line.is_char_boundary(end) {
                    end -= 1;
                }
                line.truncate(end);
                line.push_str(" …");
            }
            if last.len() == KEPT_LOG_LINES {
                last.pop_front();
            }
            last.push_back(line.clone());
            lines += 1;
            if lines <= MAX_TOLD_LINES {
                tell(Progress::BuildLog {
                    service: svc.name.clone(),
                    line,
                });
            }
        };
        let result = engine.build_image(&job, context, &mut log).await;
        if lines > MAX_TOLD_LINES {
            tell(Progress::BuildLog {
                service: svc.name.clone(),
                line: format!("… {} more lines not shown", lines - MAX_TOLD_LINES),
            });
        }
        built = true;
        if let Err(e) = result {
            let log = last.into_iter().collect::<Vec<_>>().join("\n");
            return Err(fail(e.to_string(), log));
        }
        tell(Progress::Built {
            service: svc.name.clone(),
            image,
        });
    }
    if built {
        // No build runs longer than the timeout: younger dangling images may be a running one's.
        let spare = req.build.timeout + Duration::from_secs(60);
        match engine.prune_builds(req.build.cache_max, spare).await {
            Ok(0) => {}
            Ok(freed) => tracing::info!(slug = req.slug, freed, "build cache pruned"),
            Err(e) => tracing::warn!(slug = req.slug, error = %e, "cannot prune the build cache"),
        }
    }
    Ok(())
}
