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

pub mod progress;
mod subnets;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clubhost_docker::{
    ContainerPlan, ContainerStatus, DockerError, Engine, LABEL_DEPLOYMENT, LABEL_PROJECT,
    LABEL_SERVICE,
};
use clubhost_stack::{Condition, Stack};
pub use progress::{Progress, ProgressSink, WaitFor};
pub use subnets::{SubnetError, Subnets};

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("service {service}: {message}")]
    Service { service: String, message: String },
    #[error("network {network}: {source}")]
    Subnet {
        network: String,
        source: SubnetError,
    },
}

/// Where a deploy puts things, derived from the slug alone.
pub fn network_name(slug: &str) -> String {
    format!("clubhost-{slug}")
}

/// A network the stack file declares: `clubhost-<slug>_<name>`. Slugs have no `_`, so this never
/// equals another project's `clubhost-<slug>`.
pub fn stack_network_name(slug: &str, network: &str) -> String {
    format!("clubhost-{slug}_{network}")
}

/// The project networks a service is on: the ones its file names (`default` is the project
/// network), or the project network when it names none.
fn service_networks(slug: &str, svc: &clubhost_stack::ServiceSpec) -> Vec<String> {
    let mut nets: Vec<String> = svc
        .networks
        .iter()
        .map(|n| {
            if n == "default" {
                network_name(slug)
            } else {
                stack_network_name(slug, n)
            }
        })
        .collect();
    if nets.is_empty() {
        nets.push(network_name(slug));
    }
    nets.dedup();
    nets
}

pub fn volume_name(slug: &str, volume: &str) -> String {
    format!("clubhost-{slug}-{volume}")
}

pub fn container_name(slug: &str, service: &str, deployment: i64) -> String {
    format!("clubhost-{slug}-{service}-{deployment}")
}

/// The containers a stack becomes, in start order. Pure: the same inputs give the same plan.
pub fn plan(slug: &str, stack: &Stack, deployment: i64, gateway: &str) -> Vec<ContainerPlan> {
    stack
        .services
        .iter()
        .map(|svc| {
            let exposed = svc.name == stack.expose.service;
            let mut networks = service_networks(slug, svc);
            let network = networks.remove(0);
            ContainerPlan {
                name: container_name(slug, &svc.name, deployment),
                image: svc.image.clone(),
                cmd: svc.command.clone(),
                entrypoint: svc.entrypoint.clone(),
                env: svc.environment.clone(),
                // The member's labels, then clubhost's over them.
                labels: svc
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .chain([
                        (LABEL_PROJECT.to_string(), slug.to_string()),
                        (LABEL_SERVICE.to_string(), svc.name.clone()),
                        (LABEL_DEPLOYMENT.to_string(), deployment.to_string()),
                    ])
                    .collect(),
                volumes: svc
                    .mounts
                    .iter()
                    .map(|m| (volume_name(slug, &m.volume), m.target.clone(), m.read_only))
                    .collect(),
                healthcheck: svc.healthcheck.clone(),
                restart: svc.restart,
                network,
                project_networks: networks,
                aliases: vec![svc.name.clone()],
                extra_networks: if exposed {
                    vec![gateway.to_string()]
                } else {
                    Vec::new()
                },
                memory_bytes: svc.limits.memory_bytes,
                nano_cpus: svc.limits.nano_cpus,
                pids_limit: svc.limits.pids,
                user: svc.user.clone(),
                working_dir: svc.working_dir.clone(),
                tmpfs: svc
                    .tmpfs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                read_only: svc.read_only,
                stop_signal: svc.stop_signal.clone(),
                stop_timeout: svc
                    .stop_grace_period
                    .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
                cap_drop: svc.cap_drop.clone(),
            }
        })
        .collect()
}

/// Everything one deploy needs to know.
pub struct DeployRequest<'a> {
    pub slug: &'a str,
    pub stack: &'a Stack,
    pub deployment: i64,
    pub gateway: &'a str,
    /// The gateway's subnet, should it have to be created.
    pub gateway_subnet: &'a str,
    /// Gives each project network created its subnet.
    pub subnets: &'a dyn Subnets,
    /// Budget for the whole deploy, from the first create to the exposed service answering.
    pub timeout: Duration,
    /// Told each step as it happens (networks, volumes, containers, waits), for live progress.
    pub progress: ProgressSink<'a>,
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
    let deadline = Instant::now() + req.timeout;
    let slug = req.slug;
    let tell = req.progress;
    // Images first: a missing image fails the deploy before anything is created.
    for svc in &req.stack.services {
        engine
            .ensure_image(&svc.image)
            .await
            .map_err(|e| DeployError::Service {
                service: svc.name.clone(),
                message: e.to_string(),
            })?;
        tell(Progress::ImageReady {
            service: svc.name.clone(),
            image: svc.image.clone(),
        });
    }
    // The gateway is shared and long-lived, but someone may have removed it since start-up.
    engine
        .ensure_gateway(req.gateway, req.gateway_subnet)
        .await?;
    let networks = std::iter::once(network_name(slug)).chain(
        req.stack
            .networks
            .iter()
            .map(|n| stack_network_name(slug, n)),
    );
    for name in networks {
        let created = subnets::ensure_network(engine, req.subnets, slug, &name).await?;
        tell(Progress::Network { name, created });
    }
    for v in &req.stack.volumes {
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
    for (svc, plan) in
        req.stack
            .services
            .iter()
            .zip(plan(slug, req.stack, req.deployment, req.gateway))
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
        engine.start_container(&id).await?;
        tell(Progress::ContainerStarted {
            service: svc.name.clone(),
        });
    }

    let exposed = &req.stack.expose;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exposed_service_joins_the_gateway() {
        let stack = clubhost_stack::parse(
            "services:\n  web:\n    image: w\n    depends_on: [db]\n    volumes: [data:/d]\n  db:\n    image: d\nvolumes:\n  data:\nx-clubhost: {expose: web, port: 8000}\n",
        )
        .unwrap();
        let plans = plan("blog", &stack, 7, "gw");
        assert_eq!(plans[0].name, "clubhost-blog-db-7");
        assert!(plans[0].extra_networks.is_empty());
        assert_eq!(plans[1].extra_networks, ["gw"]);
        assert_eq!(plans[1].network, "clubhost-blog");
        assert_eq!(plans[1].aliases, ["web"]);
        assert_eq!(
            plans[1].volumes,
            [("clubhost-blog-data".to_string(), "/d".to_string(), false)]
        );
        assert_eq!(plans[1].labels[LABEL_PROJECT], "blog");
    }

    #[test]
    fn service_settings_and_limits_reach_the_container_plan() {
        let stack = clubhost_stack::parse(
            "services:\n  web:\n    image: w\n    user: \"1000\"\n    working_dir: /srv\n    read_only: true\n    tmpfs: [\"/tmp:size=8m\"]\n    stop_signal: SIGINT\n    stop_grace_period: 1m\n    mem_limit: 64m\n    cpus: 0.25\n    pids_limit: 40\n    cap_drop: [ALL]\n    labels:\n      team: web\n",
        )
        .unwrap();
        let p = &plan("blog", &stack, 3, "gw")[0];
        assert_eq!(
            (p.memory_bytes, p.nano_cpus, p.pids_limit),
            (64 << 20, 250_000_000, 40)
        );
        assert_eq!(p.user.as_deref(), Some("1000"));
        assert_eq!(p.working_dir.as_deref(), Some("/srv"));
        assert!(p.read_only);
        assert_eq!(p.tmpfs["/tmp"], "size=8m");
        assert_eq!(p.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(p.stop_timeout, Some(60));
        assert_eq!(p.cap_drop, ["ALL"]);
        assert_eq!(p.labels["team"], "web");
        assert_eq!(p.labels[LABEL_SERVICE], "web");
    }

    #[test]
    fn declared_networks_become_project_networks() {
        let stack =
            clubhost_stack::parse(include_str!("../../../tests/compose/seed-wordpress.yml"))
                .unwrap();
        let plans = plan("blog", &stack, 1, "gw");
        let db = &plans[0];
        assert_eq!(db.network, "clubhost-blog_back-end");
        assert!(db.project_networks.is_empty() && db.extra_networks.is_empty());
        let wp = &plans[1];
        assert_eq!(wp.network, "clubhost-blog_back-end");
        assert_eq!(wp.extra_networks, ["gw"]);
    }
}
