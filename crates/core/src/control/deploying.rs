//! The deploy step shared by approve, redeploy, restore and reconcile: start a new deployment
//! beside the serving one, switch the route when it answers, retire the old one after the drain;
//! or record why it failed. Every step is told to the project's progress feed (`progress`), from
//! `Started` to `Running` or `Failed`.

use std::net::SocketAddr;

use super::subnets::Allocator;
use super::{Control, ControlError, Live, Result};
use crate::notify::Note;
use clubhost_deploy::{self as deploy, DeployRequest, Progress};
use clubhost_docker::Engine;
use clubhost_registry::{Project, ProjectState};
use clubhost_stack as stack;

/// The server's build slots: one queue for every deploy of this process, so `[build]
/// concurrency` holds across projects. (A static because `Control` has no field for it yet; the
/// first configuration seen sizes it.)
static BUILD_QUEUE: std::sync::OnceLock<std::sync::Arc<deploy::BuildQueue>> =
    std::sync::OnceLock::new();

/// `[build]` as the deployer takes it.
fn build_limits(config: &crate::config::BuildConfig) -> deploy::BuildLimits {
    let queue = BUILD_QUEUE
        .get_or_init(|| std::sync::Arc::new(deploy::BuildQueue::new(config.concurrency)))
        .clone();
    deploy::BuildLimits {
        memory: config.memory,
        cpus: config.cpus,
        timeout: config.timeout,
        network: config.network,
        cache_max: config.cache_max,
        queue,
    }
}

impl Control {
    /// The deploy itself; the caller holds the project's lock.
    pub(super) async fn deploy_locked(
        &self,
        slug: &str,
        actor: &str,
        why: &str,
    ) -> Result<Project> {
        self.deploy_holding(slug, actor, why, None).await
    }

    /// [`Self::deploy_locked`] for a project that does not count against its member's quota
    /// yet (failed, stopped, expired): `member` is the member's lock, held since the quota was
    /// checked ([`Self::check_quota_held`]) and released once the project is deploying and
    /// counts, so two of one member's projects coming back at once cannot both fit.
    pub(super) async fn deploy_holding(
        &self,
        slug: &str,
        actor: &str,
        why: &str,
        member: Option<tokio::sync::OwnedMutexGuard<()>>,
    ) -> Result<Project> {
        self.engine_now().await?;
        let project = self
            .registry
            .transition(slug, ProjectState::Deploying, actor, why)
            .await?;
        drop(member);
        self.publish_routes().await?;
        let deployment = self.registry.start_deployment(project.id).await?;
        self.progress.tell(
            slug,
            Progress::Started {
                deployment,
                why: why.to_string(),
            },
        );
        let result = self.finish_deploy(&project, deployment, actor).await;
        if let Err(e) = &result {
            // Readers wait for a last step: give them one even when recording the outcome failed.
            let reason = match e {
                ControlError::Registry(_) => "internal error; see the server log".to_string(),
                other => other.to_string(),
            };
            self.progress.tell(
                slug,
                Progress::Failed {
                    reason,
                    still_serving: self.live(slug).is_some(),
                },
            );
        }
        result
    }

    /// Runs the deploy and records its outcome (the state, the route, the progress feed's last
    /// step).
    async fn finish_deploy(
        &self,
        project: &Project,
        deployment: i64,
        actor: &str,
    ) -> Result<Project> {
        let slug = project.slug.as_str();
        // The revision this deploy takes its files from (the project's lock keeps it current).
        let revision = self.registry.source(slug).await?.map(|s| s.revision);
        let outcome = self.run_deploy(project, deployment).await;
        match outcome {
            Ok(addr) => {
                self.registry
                    .finish_deployment(deployment, "running", None)
                    .await?;
                if let Some(revision) = revision {
                    self.registry.set_deployed_revision(slug, revision).await?;
                }
                let live = Live {
                    deployment,
                    addr,
                    up: true,
                };
                self.live
                    .lock()
                    .expect("live map poisoned")
                    .insert(slug.to_string(), live);
                let p = self
                    .registry
                    .transition(slug, ProjectState::Running, actor, "deployed")
                    .await?;
                // The route moves to the new deployment in one swap; the old one drains, then goes.
                self.publish_routes().await?;
                self.progress.tell(
                    slug,
                    Progress::RoutePublished {
                        route: p.route.clone(),
                    },
                );
                self.progress.tell(slug, Progress::Running);
                self.retire_other_deployments(slug, deployment).await;
                if revision.is_some() {
                    self.prune_revisions(slug).await;
                }
                tracing::info!(%slug, %addr, "project running");
                Ok(p)
            }
            Err(reason) => {
                tracing::warn!(%slug, %reason, "deploy failed");
                self.registry
                    .finish_deployment(deployment, "failed", Some(&reason))
                    .await?;
                // A failed redeploy of a running project leaves the previous deployment serving.
                let still_serving = self.live(slug).is_some();
                let (to, why) = if still_serving {
                    let why =
                        format!("redeploy failed, previous deployment still serving: {reason}");
                    (ProjectState::Running, why)
                } else {
                    (ProjectState::Failed, reason.clone())
                };
                let subject = self.say("note-failed-subject", &[("slug", slug)]);
                let body = self.say("note-failed-body", &[("slug", slug), ("reason", &reason)]);
                let lang = self.project_owner_lang(slug).await;
                let owner_subject = self.say_in(lang, "note-failed-subject", &[("slug", slug)]);
                let owner_body = self.say_in(
                    lang,
                    "note-failed-body",
                    &[("slug", slug), ("reason", &reason)],
                );
                let p = self
                    .registry
                    .transition_noting(slug, to, actor, &why, |p| {
                        self.notifier.keep(vec![
                            Note::owner(&p.owner, slug, owner_subject, owner_body),
                            Note::admins(slug, subject, body),
                        ])
                    })
                    .await?;
                self.publish_routes().await?;
                self.progress.tell(
                    slug,
                    Progress::Failed {
                        reason: reason.clone(),
                        still_serving,
                    },
                );
                Ok(p)
            }
        }
    }

    /// Returns the exposed address, or the reason the deploy failed (already cleaned up).
    pub(super) async fn run_deploy(
        &self,
        project: &Project,
        deployment: i64,
    ) -> std::result::Result<SocketAddr, String> {
        let stack = self
            .project_stack(project)
            .await
            .map_err(|e| e.to_string())?;
        let engine = self.engine().await.map_err(|e| e.to_string())?;
        // The project's files at its current revision, for a project that brought them.
        let files = self
            .files_of(&project.slug)
            .await
            .map_err(|e| e.to_string())?;
        let subnets = Allocator {
            control: self,
            engine,
            slug: &project.slug,
        };
        let req = DeployRequest {
            slug: &project.slug,
            stack: &stack,
            deployment,
            gateway: &self.config.docker.gateway_network,
            gateway_subnet: &self.config.docker.gateway_subnet,
            subnets: &subnets,
            timeout: self.config.docker.deploy_timeout,
            progress: &|step| self.progress.tell(&project.slug, step),
            files: files.as_deref(),
            build: &build_limits(&self.config.build),
        };
        // The reason is stored, logged and shown: secret values (say, in a container's last
        // log lines) are masked first.
        let secrets = self
            .registry
            .variables(&project.slug)
            .await
            .map_err(|e| e.to_string())?;
        let backend = self.backend().await.map_err(|e| e.to_string())?;
        let outcome = backend
            .deploy(&req)
            .await
            .map_err(|e| secrets.redact(&e.to_string()));
        if outcome.is_err() {
            // The failed deploy removed the networks it made (unless older deployments use them).
            self.release_subnets(engine, &project.slug).await;
        }
        // Even a failed deploy may have pulled or built its images: `gc --images` must know them.
        self.record_images(engine, &project.slug, deployment, &stack)
            .await;
        outcome
    }

    /// Remembers the images a deploy used, with the image id each names now (what
    /// `gc --images` may later prune). A failure is logged; it never fails the deploy.
    async fn record_images(
        &self,
        engine: &Engine,
        slug: &str,
        deployment: i64,
        stack: &stack::Stack,
    ) {
        let mut images: Vec<(String, String)> = Vec::new();
        for svc in &stack.services {
            let image = deploy::service_image(slug, deployment, svc);
            if images.iter().any(|(i, _)| *i == image) {
                continue;
            }
            match engine.image_id(&image).await {
                Ok(Some(id)) => images.push((image, id)),
                Ok(None) => {}
                Err(e) => tracing::warn!(%slug, error = %e, "cannot read a deployed image's id"),
            }
        }
        if let Err(e) = self.registry.record_images(slug, &images).await {
            tracing::warn!(%slug, error = %e, "cannot record deployed images");
        }
    }

    /// Removes the deployments of a project older than `keep`, after the drain period (in the
    /// background, so the caller does not wait for it).
    pub(super) async fn retire_other_deployments(&self, slug: &str, keep: i64) {
        let Ok(backend) = self.backend().await else {
            return;
        };
        let drain = *self.drain.lock().expect("drain poisoned");
        let slug = slug.to_string();
        let retire = async move {
            tokio::time::sleep(drain).await;
            // Only older ones: a newer deployment may be starting right now.
            backend.remove_deployments(&slug, &|d| d < keep).await;
        };
        if drain.is_zero() {
            retire.await;
        } else {
            tokio::spawn(retire);
        }
    }
}
