//! Image builds and files copied into containers.
//!
//! Builds go through the engine's `/build` endpoint with the **classic builder** (bollard's
//! default `BuilderV1`; on API 1.41 BuildKit would need a gRPC session and ignores memory and CPU
//! limits, moby/buildkit#593). Every build runs under the club's limits: memory and memswap (no
//! swap beyond it), a CPU quota, no network when the club turns it off, and a timeout after which
//! the stream is dropped: the engine cancels a classic build whose client went away and removes
//! its build container (tests/it/build.rs checks that no build container is left).
//!
//! Files reach containers only as tar archives uploaded into a created, not yet started container
//! (`PUT /containers/{id}/archive`): never a host path, never a bind.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::query_parameters::{
    BuildImageOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::{DockerError, Engine, LABEL_INSTANCE, LABEL_MANAGED, LABEL_PROJECT, Result, api};

/// One image build: what to build and the limits it runs under.
#[derive(Debug, Clone)]
pub struct BuildJob<'a> {
    /// The tag the image gets (`clubhost/<slug>:<deployment>`).
    pub tag: &'a str,
    /// The project the image belongs to (its `clubhost.project` label).
    pub project: &'a str,
    /// The Dockerfile's path inside the context.
    pub dockerfile: &'a str,
    /// Build arguments.
    pub args: &'a BTreeMap<String, String>,
    /// The stage to build, if not the last.
    pub target: Option<&'a str>,
    /// Memory (and memory plus swap) of each build step, in bytes.
    pub memory: u64,
    /// CPUs the build may use.
    pub cpus: f64,
    /// Whether build steps reach the network.
    pub network: bool,
    /// How long the whole build may take.
    pub timeout: Duration,
    /// Whether the Dockerfile already ends with [`Engine::label_line`] (one build step);
    /// otherwise the builder's `labels` option adds them (a step per label).
    pub labelled: bool,
}

/// Why the classic builder says a step's command exited 137: the kernel killed it, which under a
/// memory limit is the OOM killer.
const KILLED: &str = "non-zero code: 137";

impl Engine {
    /// The `LABEL` line that gives a built image this instance's labels for `project`, for the
    /// end of its Dockerfile.
    pub fn label_line(&self, project: &str) -> String {
        format!(
            "LABEL {LABEL_MANAGED}=\"true\" {LABEL_INSTANCE}={:?} {LABEL_PROJECT}={:?}",
            self.instance, project
        )
    }

    /// Builds `job` from `context` (a tar of the build context), telling each line of the build's
    /// log to `log`. Returns the image id. A step that runs out of memory, a build past its
    /// timeout and a failed step are [`DockerError::Build`] errors that say which.
    pub async fn build_image(
        &self,
        job: &BuildJob<'_>,
        context: Vec<u8>,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String> {
        let labels: HashMap<String, String> = [
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_INSTANCE.to_string(), self.instance.clone()),
            (LABEL_PROJECT.to_string(), job.project.to_string()),
        ]
        .into();
        // The API takes memory as a 32-bit number: 2 GiB and more is capped just below 2 GiB.
        let memory = i32::try_from(job.memory).unwrap_or(i32::MAX);
        let period = 100_000;
        let quota = ((job.cpus * f64::from(period)) as i32).max(1_000);
        let args: HashMap<String, String> = job
            .args
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut opts = BuildImageOptionsBuilder::default()
            .dockerfile(job.dockerfile)
            .t(job.tag)
            .rm(true)
            .forcerm(true)
            .memory(memory)
            .memswap(memory)
            .cpuperiod(period)
            .cpuquota(quota)
            .buildargs(&args);
        if !job.labelled {
            opts = opts.labels(&labels);
        }
        if let Some(t) = job.target {
            opts = opts.target(t);
        }
        if !job.network {
            opts = opts.networkmode("none");
        }
        let body = bollard::body_full(context.into());
        let mut stream = self.docker.build_image(opts.build(), None, Some(body));
        let mut id = None;
        let mut partial = String::new();
        let run = async {
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| DockerError::Build {
                    message: build_failure(&e.to_string(), job.memory),
                })?;
                if let Some(text) = info.stream.as_deref() {
                    partial.push_str(text);
                    while let Some(end) = partial.find('\n') {
                        let line: String = partial.drain(..=end).collect();
                        let line = line.trim_end();
                        if !line.is_empty() {
                            log(line);
                        }
                    }
                }
                if let Some(aux) = info.aux.as_ref().and_then(|a| a.id.clone()) {
                    id = Some(aux);
                }
                let error = info.error_detail.as_ref().and_then(|d| d.message.clone());
                if let Some(e) = error {
                    return Err(DockerError::Build {
                        message: build_failure(&e, job.memory),
                    });
                }
            }
            Ok(())
        };
        match tokio::time::timeout(job.timeout, run).await {
            Ok(r) => r?,
            // Dropping the stream closes the connection: the engine cancels the build and removes
            // its build container.
            Err(_) => {
                return Err(DockerError::Build {
                    message: format!(
                        "the build did not finish within {}s ([build] timeout) and was stopped",
                        job.timeout.as_secs()
                    ),
                });
            }
        }
        if !partial.trim().is_empty() {
            log(partial.trim_end());
        }
        match id {
            Some(id) => Ok(id),
            None => self
                .image_id(job.tag)
                .await?
                .ok_or_else(|| DockerError::Build {
                    message: "the engine reported no image".into(),
                }),
        }
    }

    /// Copies `tar` (paths relative to `/`) into the created, not yet started container `id`:
    /// how the project's files and secrets reach a container without any host path.
    pub async fn upload_files(&self, id: &str, tar: Vec<u8>) -> Result<()> {
        let opts = UploadToContainerOptionsBuilder::default().path("/").build();
        self.docker
            .upload_to_container(id, Some(opts), bollard::body_full(tar.into()))
            .await
            .map_err(api(format!("copy files into container {id}")))
    }

    /// Keeps build leftovers under `max` bytes: this instance's dangling images (earlier builds
    /// of a tag) oldest first, then the engine's unused build cache (`POST /build/prune`, the
    /// `docker builder prune` of BuildKit). Images younger than `spare` are kept: a build still
    /// running has dangling intermediate images (with our labels, after its `LABEL` steps) until
    /// it tags its result. Returns the bytes freed.
    pub async fn prune_builds(&self, max: u64, spare: Duration) -> Result<u64> {
        let label = format!("{LABEL_INSTANCE}={}", self.instance);
        let filters: HashMap<&str, Vec<&str>> =
            [("dangling", vec!["true"]), ("label", vec![label.as_str()])].into();
        let opts = ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let mut images = self
            .docker
            .list_images(Some(opts))
            .await
            .map_err(api("list dangling build images"))?;
        let mut total: u64 = images.iter().map(|i| i.size.max(0) as u64).sum();
        let mut freed = 0;
        if total <= max {
            return Ok(0);
        }
        images.sort_by_key(|i| i.created);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let spare_from = now - spare.as_secs() as i64;
        for i in images {
            if total <= max {
                break;
            }
            if i.created > spare_from {
                continue;
            }
            let opts = RemoveImageOptionsBuilder::default().force(false).build();
            if self
                .docker
                .remove_image(&i.id, Some(opts), None)
                .await
                .is_ok()
            {
                let size = i.size.max(0) as u64;
                total -= size;
                freed += size;
            }
        }
        let pruned = self
            .docker
            .prune_build(None::<bollard::query_parameters::PruneBuildOptions>)
            .await
            .map_err(api("prune the build cache"))?;
        Ok(freed + pruned.space_reclaimed.unwrap_or(0).max(0) as u64)
    }
}

/// The message for a failed build: running out of memory says so.
fn build_failure(message: &str, memory: u64) -> String {
    if message.contains(KILLED) || message.to_lowercase().contains("out of memory") {
        format!(
            "the build ran out of memory: a step was killed at the [build] memory limit of {} MiB \
             ({})",
            memory >> 20,
            message.trim()
        )
    } else {
        format!("the build failed: {}", message.trim())
    }
}
