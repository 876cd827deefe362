//! Start-up reconciliation: bring Docker in line with the registry after clubhost (re)starts,
//! whatever a crash interrupted. Split from `control` because it is the one place that reads
//! every project against what Docker holds.

use super::{Control, Live, Result};
use clubhost_registry::ProjectState;

impl Control {
    /// Brings Docker in line with the registry after a start: running projects whose containers
    /// are all up keep them (same ids); anything interrupted is finished or redeployed; containers
    /// of projects that should have none are removed.
    pub async fn reconcile(&self) -> Result<()> {
        let engine = self.engine().await?.clone();
        let backend = self.backend().await?;
        let projects = self.registry.projects().await?;
        let known: Vec<&str> = projects.iter().map(|p| p.slug.as_str()).collect();
        // Containers and networks of projects the registry no longer knows (a delete cut short by
        // a crash). Their volumes may hold data: `clubhost gc` lists and removes those.
        for c in engine.containers(None).await? {
            if !known.contains(&c.project.as_str()) {
                tracing::info!(container = %c.name, "removing orphan container");
                engine.remove_container(&c.id).await?;
            }
        }
        for network in engine.networks(None).await? {
            // `clubhost-<slug>` or a declared network's `clubhost-<slug>_<name>` (no `_` in slugs).
            let slug = network.strip_prefix("clubhost-").unwrap_or_default();
            let slug = slug.split('_').next().unwrap_or_default();
            if !known.contains(&slug) {
                tracing::info!(%network, "removing orphan network");
                engine.remove_network(&network).await?;
            }
        }
        // Only now, with orphans gone: rows of networks that are gone are freed, networks that
        // stay are recorded with the subnets Docker gave them.
        self.sync_subnets(&engine).await?;
        for p in &projects {
            let slug = p.slug.as_str();
            match p.state() {
                state @ (ProjectState::Running | ProjectState::Deploying) => {
                    let stack = self.project_stack(p).await?;
                    let gateway = &self.config.docker.gateway_network;
                    match backend.observe(slug, &stack, gateway).await? {
                        Some((deployment, addr)) => {
                            tracing::info!(%slug, %addr, "project still running; route restored");
                            let live = Live {
                                deployment,
                                addr,
                                up: true,
                            };
                            self.live
                                .lock()
                                .expect("live map poisoned")
                                .insert(slug.to_string(), live);
                            // Nothing deploys during start-up: every other deployment is a
                            // leftover (older, or a newer one a crash cut short).
                            backend.remove_deployments(slug, &|d| d != deployment).await;
                            if state == ProjectState::Deploying {
                                let why = "redeploy interrupted by a restart; kept the deployment that runs";
                                self.registry
                                    .transition(slug, ProjectState::Running, "reconcile", why)
                                    .await?;
                            }
                        }
                        None => {
                            tracing::info!(%slug, "containers missing; redeploying");
                            backend.teardown(slug, false).await?;
                            if state == ProjectState::Deploying {
                                let why = "deploy interrupted by a restart";
                                self.registry
                                    .transition(slug, ProjectState::Failed, "reconcile", why)
                                    .await?;
                            }
                            self.redeploy(slug, "reconcile").await?;
                        }
                    }
                }
                ProjectState::Approved => {
                    self.redeploy(slug, "reconcile").await?;
                }
                _ => {
                    if !engine.containers(Some(slug)).await?.is_empty()
                        || (self.swarm_mode() && !engine.services(Some(slug)).await?.is_empty())
                    {
                        backend.teardown(slug, false).await?;
                        self.release_subnets(&engine, slug).await;
                    }
                }
            }
        }
        self.publish_routes().await
    }
}
