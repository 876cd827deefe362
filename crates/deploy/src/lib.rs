//! Deploy and tear down one project's stack: from a [`Stack`] (plain data) to running containers
//! and the address the proxy should send visitors to.
//!
//! A deploy either ends with every service up and the exposed one answering on the gateway, or it
//! removes everything it created and reports why. Naming:
//! - project network `clubhost-<slug>` (internal), every service that names no network on it
//!   under its service name; networks the file declares are `clubhost-<slug>_<name>` (internal),
//!   with the same aliases;
//! - volumes `clubhost-<slug>-<name>`;
//! - containers `clubhost-<slug>-<service>-<deployment id>`, so a later deploy can start beside
//!   an earlier one.
//!
//! Architecture invariant: this module never writes the registry and never touches the route
//! table; it returns results and the caller records them. While it works it reports its steps
//! ([`progress`]) to the sink the caller passes, as plain data.

mod backend;
mod build;
mod files;
mod netns;
mod plan;
pub(crate) mod progress;
mod subnets;
mod swarm;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use backend::{Backend, EngineBackend, Which};
pub use build::{BuildLimits, BuildQueue, KEPT_LOG_LINES, built_image, service_image};
use clubhost_docker::{ContainerStatus, DockerError, Engine, ImageHealth};
use clubhost_stack::{Condition, Stack};
pub use files::{FolderFiles, context_tar};
pub use plan::{container_name, network_name, plan, stack_network_name, volume_name};
pub use progress::{Progress, ProgressSink, WaitFor};
pub use subnets::{SubnetError, Subnets};
pub use swarm::SwarmBackend;

/// Why a deploy failed; by the time it is returned, what the deploy created is removed again.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The engine refused or failed a step.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// One service did not come up: it exited, turned unhealthy, was not ready before the timeout,
    /// or (the exposed one) has no gateway address or does not accept connections.
    #[error("service {service}: {message}")]
    Service {
        /// Name of the service in the stack file.
        service: String,
        /// What went wrong, with the container's last log lines when there are any.
        message: String,
    },
    /// A service's image could not be built (a failed step, out of memory, past the timeout,
    /// a context that is not plain files); `log` is the build log's last lines.
    #[error("service {service}: {message}{}", if log.is_empty() { String::new() } else { format!("\nlast lines of the build log:\n{log}") })]
    Build {
        /// Name of the service in the stack file.
        service: String,
        /// What went wrong.
        message: String,
        /// The last lines ([`KEPT_LOG_LINES`]) of the build's log.
        log: String,
    },
    /// A network's subnet could not be had (the pool is full, or the allocator failed).
    #[error("network {network}: {source}")]
    Subnet {
        /// The Docker network being created.
        network: String,
        /// Why no subnet was given.
        source: SubnetError,
    },
}

/// Everything one deploy needs to know.
pub struct DeployRequest<'a> {
    /// The project's slug; names every Docker object the deploy creates.
    pub slug: &'a str,
    /// The parsed stack file; its resource limits already carry the club's defaults and caps.
    pub stack: &'a Stack,
    /// Registry id of this deploy attempt (`Registry::start_deployment`); in container names and
    /// labels, so it can start beside an earlier deployment.
    pub deployment: i64,
    /// Name of the shared network the proxy reaches exposed services on; joined by the exposed
    /// service only.
    pub gateway: &'a str,
    /// The gateway's subnet, should it have to be created.
    pub gateway_subnet: &'a str,
    /// Gives each project network created its subnet.
    pub subnets: &'a dyn Subnets,
    /// Budget for the whole deploy, from the first create to the exposed service answering.
    pub timeout: Duration,
    /// Told each step as it happens (networks, volumes, containers, waits), for live progress.
    pub progress: ProgressSink<'a>,
    /// The project's files at the revision being deployed (a folder under the data dir), where
    /// build contexts, relative binds, env files and file secrets are read from, and nowhere
    /// else. `None` for a project submitted as a compose file alone. Paths in the stack are
    /// relative to it: it is the stack file's folder.
    pub files: Option<&'a std::path::Path>,
    /// Limits and slots for the images of `build:` services.
    pub build: &'a BuildLimits,
}

/// Deploys a stack. On success returns the exposed service's address on the gateway. On failure
/// everything this deploy created is removed before the error is returned.
pub async fn deploy(engine: &Engine, req: &DeployRequest<'_>) -> Result<SocketAddr, DeployError> {
    let mut created_volumes = Vec::new();
    let result = deploy_inner(engine, req, &mut created_volumes).await;
    if result.is_err() {
        remove_deployments(engine, req.slug, |d| d == req.deployment).await;
        for v in &created_volumes {
            if let Err(e) = engine.remove_volume(v).await {
                tracing::warn!(volume = %v, error = %e, "cleanup after failed deploy");
            }
        }
        // The network is shared with earlier deployments; drop it only if nothing else uses it.
        if engine
            .containers(Some(req.slug))
            .await
            .map(|c| c.is_empty())
            .unwrap_or(false)
        {
            let mut nets = engine.networks(Some(req.slug)).await.unwrap_or_default();
            nets.push(network_name(req.slug));
            nets.sort();
            nets.dedup();
            for n in nets {
                if let Err(e) = engine.remove_network(&n).await {
                    tracing::warn!(error = %e, "cleanup after failed deploy");
                }
            }
        }
    }
    result
}

async fn deploy_inner(
    engine: &Engine,
    req: &DeployRequest<'_>,
    created_volumes: &mut Vec<String>,
) -> Result<SocketAddr, DeployError> {
    let slug = req.slug;
    let tell = req.progress;
    // Builds first (the build time is not the deploy's: the deadline starts after them), then
    // images: a missing image fails the deploy before anything is created.
    build::build_services(engine, req).await?;
    let deadline = Instant::now() + req.timeout;
    let stack = &build::with_built_images(req.stack, slug, req.deployment);
    prepare_images(engine, stack, tell).await?;
    check_health_sources(engine, stack).await?;
    // The gateway is shared and long-lived, but someone may have removed it since start-up.
    engine
        .ensure_gateway(req.gateway, req.gateway_subnet)
        .await?;
    let networks = std::iter::once(network_name(slug))
        .chain(stack.networks.iter().map(|n| stack_network_name(slug, n)));
    for name in networks {
        let created = subnets::ensure_network(engine, req.subnets, slug, &name).await?;
        tell(Progress::Network { name, created });
    }
    for v in &stack.volumes {
        let name = volume_name(slug, v);
        let created = engine.ensure_volume(&name, slug).await?;
        if created {
            created_volumes.push(name.clone());
        }
        tell(Progress::Volume { name, created });
    }
    let waiting = |service: &str, until, port| {
        tell(Progress::Waiting {
            service: service.to_string(),
            until,
            port,
        })
    };

    let mut ids: HashMap<&str, String> = HashMap::new();
    for (svc, plan) in stack
        .services
        .iter()
        .zip(plan(slug, stack, req.deployment, req.gateway))
    {
        // depends_on: the dependencies were started earlier (start order); wait for each to
        // reach its condition.
        for dep in &svc.depends_on {
            let id = &ids[dep.service.as_str()];
            match dep.condition {
                // Running, or healthy when it has a healthcheck (a healthcheck that fails fails
                // the deploy rather than starting on a broken dependency).
                Condition::ServiceStarted => {
                    waiting(&dep.service, WaitFor::Ready, None);
                    wait_ready(engine, &dep.service, id, deadline).await?
                }
                Condition::ServiceHealthy => {
                    waiting(&dep.service, WaitFor::Healthy, None);
                    wait_healthy(engine, &dep.service, id, deadline).await?
                }
                Condition::ServiceCompletedSuccessfully => {
                    waiting(&dep.service, WaitFor::Completed, None);
                    wait_completed(engine, &dep.service, id, deadline).await?
                }
            }
        }
        let container = plan.name.clone();
        let id = engine.create_container(&plan).await?;
        tell(Progress::ContainerCreated {
            service: svc.name.clone(),
            container,
        });
        ids.insert(svc.name.as_str(), id.clone());
        // The project's files and secrets go into the created container before it starts; a
        // project volume gets the files only when this deploy created it (seeded once).
        let seed = |v: &str| created_volumes.contains(&volume_name(slug, v));
        let tar = files::container_tar(req.files, svc, &seed).map_err(|message| {
            DeployError::Service {
                service: svc.name.clone(),
                message,
            }
        })?;
        if let Some(tar) = tar {
            engine
                .upload_files(&id, tar)
                .await
                .map_err(|e| match svc.read_only {
                    // The engine refuses to write into a read-only root filesystem.
                    true => DeployError::Service {
                        service: svc.name.clone(),
                        message: format!(
                            "has `read_only: true`, so its root filesystem cannot receive the \
                         project's files or secrets: drop `read_only` ({e})"
                        ),
                    },
                    false => e.into(),
                })?;
        }
        engine.start_container(&id).await?;
        tell(Progress::ContainerStarted {
            service: svc.name.clone(),
        });
    }

    let exposed = &stack.expose;
    let id = &ids[exposed.service.as_str()];
    waiting(&exposed.service, WaitFor::Ready, None);
    wait_ready(engine, &exposed.service, id, deadline).await?;
    let Some(ip) = engine.address_on(id, req.gateway).await? else {
        // A container that exited right after it was seen running has no address: say why it
        // exited rather than that it has no address.
        if let ContainerStatus::Exited(code) = engine.status(id).await? {
            let logs = engine.log_tail(id, 5).await;
            return Err(DeployError::Service {
                service: exposed.service.clone(),
                message: format!("exited with code {code}{}", logs_suffix(&logs)),
            });
        }
        return Err(DeployError::Service {
            service: exposed.service.clone(),
            message: format!("has no address on the gateway network {}", req.gateway),
        });
    };
    let addr = clubhost_docker::upstream(ip, exposed.port);
    waiting(&exposed.service, WaitFor::Listening, Some(exposed.port));
    wait_listening(engine, &exposed.service, id, addr, deadline).await?;
    tell(Progress::Answering {
        service: exposed.service.clone(),
        port: exposed.port,
    });
    Ok(addr)
}

/// Before anything is created: every service waited on as `service_healthy` must have a
/// healthcheck, from the file or, when the file gives no test, from its image.
async fn check_health_sources(engine: &Engine, stack: &Stack) -> Result<(), DeployError> {
    for svc in &stack.services {
        for dep in &svc.depends_on {
            if dep.condition != Condition::ServiceHealthy {
                continue;
            }
            let Some(target) = stack.service(&dep.service) else {
                continue;
            };
            let test = target.healthcheck.as_ref().map(|h| h.test.as_slice());
            let fail = |why: String| DeployError::Service {
                service: target.name.clone(),
                message: format!(
                    "{} waits for it with `depends_on: condition: service_healthy`, but {why}; \
                     give it a `healthcheck:` with a `test:` or wait with service_started",
                    svc.name
                ),
            };
            match test {
                Some([first, ..]) if first == "NONE" => {
                    return Err(fail("its healthcheck is disabled".into()));
                }
                Some([_, ..]) => {}
                None | Some([]) => {
                    if engine.image_health(&target.image).await? == ImageHealth::NoTest {
                        return Err(fail(format!(
                            "neither the file nor its image {:?} defines a healthcheck",
                            target.image
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Waits until a container runs (and is healthy, if it has a healthcheck).
async fn wait_ready(
    engine: &Engine,
    service: &str,
    id: &str,
    deadline: Instant,
) -> Result<(), DeployError> {
    loop {
        let status = engine.status(id).await?;
        match status {
            ContainerStatus::Running | ContainerStatus::Healthy => return Ok(()),
            ContainerStatus::Exited(code) => {
                let logs = engine.log_tail(id, 5).await;
                return Err(DeployError::Service {
                    service: service.to_string(),
                    message: format!("exited with code {code}{}", logs_suffix(&logs)),
                });
            }
            ContainerStatus::Unhealthy => {
                return Err(DeployError::Service {
                    service: service.to_string(),
                    message: "its healthcheck reports unhealthy".into(),
                });
            }
            ContainerStatus::Starting => {}
        }
        if Instant::now() >= deadline {
            return Err(DeployError::Service {
                service: service.to_string(),
                message: format!("not ready before the deploy timeout ({status:?})"),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until a container's healthcheck reports healthy (`service_healthy`).
async fn wait_healthy(
    engine: &Engine,
    service: &str,
    id: &str,
    deadline: Instant,
) -> Result<(), DeployError> {
    loop {
        match engine.status(id).await? {
            ContainerStatus::Healthy => return Ok(()),
            ContainerStatus::Running => {
                return Err(DeployError::Service {
                    service: service.to_string(),
                    message: "is waited on as service_healthy but has no healthcheck".into(),
                });
            }
            _ => wait_ready(engine, service, id, deadline).await?,
        }
        if Instant::now() >= deadline {
            return Err(DeployError::Service {
                service: service.to_string(),
                message: "not healthy before the deploy timeout".into(),
            });
        }
    }
}

/// Waits until a one-shot container exits with code 0 (`service_completed_successfully`).
async fn wait_completed(
    engine: &Engine,
    service: &str,
    id: &str,
    deadline: Instant,
) -> Result<(), DeployError> {
    loop {
        match engine.status(id).await? {
            ContainerStatus::Exited(0) => return Ok(()),
            ContainerStatus::Exited(code) => {
                let logs = engine.log_tail(id, 5).await;
                return Err(DeployError::Service {
                    service: service.to_string(),
                    message: format!("exited with code {code}{}", logs_suffix(&logs)),
                });
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(DeployError::Service {
                service: service.to_string(),
                message: "did not finish before the deploy timeout".into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the exposed service accepts TCP connections on the gateway, so the route is only
/// switched to something that answers.
async fn wait_listening(
    engine: &Engine,
    service: &str,
    id: &str,
    addr: SocketAddr,
    deadline: Instant,
) -> Result<(), DeployError> {
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(addr),
        )
        .await;
        if let Ok(Ok(_)) = attempt {
            return Ok(());
        }
        if let ContainerStatus::Exited(code) = engine.status(id).await? {
            let logs = engine.log_tail(id, 5).await;
            return Err(DeployError::Service {
                service: service.to_string(),
                message: format!("exited with code {code}{}", logs_suffix(&logs)),
            });
        }
        if Instant::now() >= deadline {
            return Err(DeployError::Service {
                service: service.to_string(),
                message: format!("does not accept connections on port {}", addr.port()),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn logs_suffix(logs: &str) -> String {
    if logs.is_empty() {
        String::new()
    } else {
        format!("; last output:\n{logs}")
    }
}

/// Removes the containers of the deployments `which` selects (by deployment id).
pub async fn remove_deployments(engine: &Engine, slug: &str, which: impl Fn(i64) -> bool) {
    let containers = match engine.containers(Some(slug)).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(%slug, error = %e, "cannot list containers to clean up");
            return;
        }
    };
    let doomed = containers
        .iter()
        .filter(|c| c.deployment.is_some_and(&which));
    let removals = doomed.map(|c| engine.remove_container(&c.id));
    for r in futures_util::future::join_all(removals).await {
        if let Err(e) = r {
            tracing::warn!(%slug, error = %e, "cleanup failed");
        }
    }
}

/// Removes a project's containers and network, and its volumes when `purge` is set.
pub async fn teardown(engine: &Engine, slug: &str, purge: bool) -> Result<(), DockerError> {
    let containers = engine.containers(Some(slug)).await?;
    let removals = containers.iter().map(|c| engine.remove_container(&c.id));
    for r in futures_util::future::join_all(removals).await {
        r?;
    }
    for n in engine.networks(Some(slug)).await? {
        engine.remove_network(&n).await?;
    }
    engine.remove_network(&network_name(slug)).await?;
    if purge {
        for v in engine.volumes(Some(slug)).await? {
            engine.remove_volume(&v).await?;
        }
    }
    Ok(())
}

/// After a restart: if one deployment of the project has a running container for every service,
/// returns that deployment and its exposed address without touching anything.
pub async fn observe(
    engine: &Engine,
    slug: &str,
    stack: &Stack,
    gateway: &str,
) -> Result<Option<(i64, SocketAddr)>, DockerError> {
    let containers = engine.containers(Some(slug)).await?;
    let mut deployments: Vec<i64> = containers.iter().filter_map(|c| c.deployment).collect();
    deployments.sort_unstable();
    deployments.dedup();
    // Newest first: after an interrupted redeploy the newest complete one wins.
    for dep in deployments.into_iter().rev() {
        let of_dep: Vec<_> = containers
            .iter()
            .filter(|c| c.deployment == Some(dep))
            .collect();
        let complete = stack.services.iter().all(|s| {
            of_dep
                .iter()
                .any(|c| c.service == s.name && (c.running || stack.is_one_shot(&s.name)))
        });
        if !complete {
            continue;
        }
        let exposed = of_dep
            .iter()
            .find(|c| c.service == stack.expose.service)
            .expect("complete deployment has the exposed service");
        if let Some(ip) = engine.address_on(&exposed.id, gateway).await? {
            return Ok(Some((
                dep,
                clubhost_docker::upstream(ip, stack.expose.port),
            )));
        }
    }
    Ok(None)
}

/// Makes sure every service's image is here (pulled by its policy), saying so per service; a
/// service built from the project's files already has its image. A missing image fails the
/// deploy before anything is created.
pub(crate) async fn prepare_images(
    engine: &Engine,
    stack: &Stack,
    tell: ProgressSink<'_>,
) -> Result<(), DeployError> {
    for svc in &stack.services {
        if svc.build.is_none() {
            engine
                .prepare_image(&svc.image, svc.pull_policy, svc.platform.as_deref())
                .await
                .map_err(|e| DeployError::Service {
                    service: svc.name.clone(),
                    message: e.to_string(),
                })?;
        }
        tell(Progress::ImageReady {
            service: svc.name.clone(),
            image: svc.image.clone(),
        });
    }
    Ok(())
}
