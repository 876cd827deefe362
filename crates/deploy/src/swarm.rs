//! The Swarm backend (`[docker] mode = "swarm"`, docs/scale-out.md): each service of a stack
//! becomes a Swarm service made from the same [`ContainerPlan`](clubhost_docker::ContainerPlan)
//! engine mode creates a container from, named like it (`clubhost-<slug>-<service>-<deployment>`,
//! so a redeploy starts beside the serving one). Networks are overlays (internal for the
//! project's own, the gateway attachable), every service uses `endpoint_mode: dnsrr`.
//!
//! The proxy reaches tasks through the anchor's network namespace ([`Namespace`]): the address a
//! deploy returns *names* the exposed service (its first task's address on the gateway), and
//! [`SwarmBackend::pick`] turns it into one of the service's running tasks, round-robin;
//! [`SwarmBackend::refresh`] follows tasks as Swarm replaces them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clubhost_docker::{DockerError, Engine, SwarmPlan, TaskInfo};
use clubhost_stack::Stack;
use futures_util::future::BoxFuture;

use super::backend::{Backend, Which};
use super::netns::Namespace;
use super::{
    DeployError, DeployRequest, Progress, WaitFor, network_name, plan, prepare_images,
    stack_network_name,
};

/// The exposed service's running tasks, behind the address its route carries.
struct Replicas {
    /// The Swarm service's name.
    service: String,
    port: u16,
    /// Running tasks' addresses on the gateway.
    addrs: Vec<SocketAddr>,
    next: usize,
}

/// Projects as Swarm services, reached through the anchor's namespace.
pub struct SwarmBackend {
    engine: Engine,
    /// The anchor container's name and image.
    anchor: String,
    anchor_image: String,
    /// The gateway overlay (attachable) and its subnet.
    gateway: String,
    gateway_subnet: String,
    namespace: tokio::sync::Mutex<Option<Arc<Namespace>>>,
    replicas: Mutex<HashMap<SocketAddr, Replicas>>,
}

impl SwarmBackend {
    /// A backend on `engine` (a swarm manager); `anchor` names the anchor container, run from
    /// `anchor_image` (already on the manager, or pullable) on the `gateway` overlay.
    pub fn new(
        engine: Engine,
        anchor: &str,
        anchor_image: &str,
        gateway: &str,
        gateway_subnet: &str,
    ) -> SwarmBackend {
        SwarmBackend {
            engine,
            anchor: anchor.to_string(),
            anchor_image: anchor_image.to_string(),
            gateway: gateway.to_string(),
            gateway_subnet: gateway_subnet.to_string(),
            namespace: tokio::sync::Mutex::new(None),
            replicas: Mutex::new(HashMap::new()),
        }
    }

    /// The gateway overlay, the anchor on it, and a thread in the anchor's namespace; made once
    /// and again when the anchor was replaced.
    pub async fn namespace(&self) -> Result<Arc<Namespace>, DockerError> {
        let mut held = self.namespace.lock().await;
        if !self.engine.swarm_manager().await? {
            return Err(DockerError::Swarm(
                "`[docker] mode` is \"swarm\" but this Docker engine is not a swarm manager \
                 (docker swarm init, or run clubhost on a manager)"
                    .into(),
            ));
        }
        self.engine
            .ensure_overlay(&self.gateway, None, &self.gateway_subnet, false)
            .await?;
        let pid = self
            .engine
            .ensure_anchor(&self.anchor, &self.anchor_image, &self.gateway)
            .await?;
        if let Some(ns) = held.as_ref().filter(|ns| ns.pid == pid) {
            return Ok(ns.clone());
        }
        let ns = Arc::new(Namespace::enter(pid).map_err(|e| {
            DockerError::Swarm(format!(
                "cannot make sockets on the gateway overlay: {e} (clubhost must run as root in \
                 swarm mode)"
            ))
        })?);
        *held = Some(ns.clone());
        Ok(ns)
    }

    /// The task a new connection to `key` (an address a deploy returned) goes to, round-robin
    /// over the service's running tasks; `None` when `key` is no swarm service's, or it has no
    /// running task.
    pub fn pick(&self, key: SocketAddr) -> Option<Option<SocketAddr>> {
        let mut map = self.replicas.lock().expect("replicas poisoned");
        let r = map.get_mut(&key)?;
        if r.addrs.is_empty() {
            return Some(None);
        }
        r.next = r.next.wrapping_add(1);
        Some(Some(r.addrs[r.next % r.addrs.len()]))
    }

    /// Connects to `addr` on the gateway overlay, from the anchor's namespace.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> std::io::Result<tokio::net::TcpStream> {
        let ns = self.namespace.lock().await.clone();
        match ns {
            Some(ns) => ns.connect(addr, timeout).await,
            None => Err(std::io::Error::other("the swarm anchor is not ready")),
        }
    }

    /// Re-reads the running tasks of every exposed service, so new connections follow tasks
    /// Swarm replaced or moved. A service that cannot be read keeps its last list.
    pub async fn refresh(&self) {
        // The anchor too: one Docker restarted or replaced gets its namespace entered again.
        if let Err(e) = self.namespace().await {
            tracing::warn!(error = %e, "swarm anchor unavailable");
        }
        let wanted: Vec<(SocketAddr, String, u16)> = {
            let map = self.replicas.lock().expect("replicas poisoned");
            map.iter()
                .map(|(k, r)| (*k, r.service.clone(), r.port))
                .collect()
        };
        for (key, service, port) in wanted {
            match self.running_addrs(&service, port).await {
                Ok(addrs) => {
                    let mut map = self.replicas.lock().expect("replicas poisoned");
                    if let Some(r) = map.get_mut(&key) {
                        if r.addrs != addrs {
                            tracing::info!(%service, ?addrs, "tasks moved; following them");
                        }
                        r.addrs = addrs;
                    }
                }
                Err(e) => tracing::warn!(%service, error = %e, "cannot read a service's tasks"),
            }
        }
    }

    async fn running_addrs(
        &self,
        service: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, DockerError> {
        let mut addrs: Vec<SocketAddr> = self
            .engine
            .tasks(service, &self.gateway)
            .await?
            .into_iter()
            .filter(|t| t.state == "running" && t.desired == "running")
            .filter_map(|t| Some(clubhost_docker::upstream(t.addr?, port)))
            .collect();
        addrs.sort();
        Ok(addrs)
    }

    /// Remembers the exposed service's tasks; the first address is the route's key.
    fn remember(&self, service: &str, port: u16, addrs: Vec<SocketAddr>) -> Option<SocketAddr> {
        let key = *addrs.first()?;
        let mut map = self.replicas.lock().expect("replicas poisoned");
        map.retain(|_, r| r.service != service);
        map.insert(
            key,
            Replicas {
                service: service.to_string(),
                port,
                addrs,
                next: 0,
            },
        );
        Some(key)
    }

    fn forget(&self, service: &str) {
        let mut map = self.replicas.lock().expect("replicas poisoned");
        map.retain(|_, r| r.service != service);
    }

    async fn deploy_inner(&self, req: &DeployRequest<'_>) -> Result<SocketAddr, DeployError> {
        let (slug, stack, tell) = (req.slug, req.stack, req.progress);
        refuse_unsupported(stack)?;
        let ns = self.namespace().await?;
        let deadline = Instant::now() + req.timeout;
        prepare_images(&self.engine, stack, tell).await?;
        let networks = std::iter::once(network_name(slug))
            .chain(stack.networks.iter().map(|n| stack_network_name(slug, n)));
        for name in networks {
            let created = self.ensure_overlay(req, &name).await?;
            tell(Progress::Network { name, created });
        }
        for (svc, container) in
            stack
                .services
                .iter()
                .zip(plan(slug, stack, req.deployment, &self.gateway))
        {
            let name = container.name.clone();
            self.engine
                .create_service(&SwarmPlan {
                    container,
                    replicas: u64::from(svc.replicas.max(1)),
                })
                .await?;
            tell(Progress::ContainerCreated {
                service: svc.name.clone(),
                container: name,
            });
        }
        for svc in &stack.services {
            if stack.is_one_shot(&svc.name) {
                continue;
            }
            tell(Progress::Waiting {
                service: svc.name.clone(),
                until: WaitFor::Ready,
                port: None,
            });
            let name = super::container_name(slug, &svc.name, req.deployment);
            self.wait_running(&svc.name, &name, svc.replicas.max(1) as usize, deadline)
                .await?;
            tell(Progress::ContainerStarted {
                service: svc.name.clone(),
            });
        }
        let exposed = &stack.expose;
        let service = super::container_name(slug, &exposed.service, req.deployment);
        tell(Progress::Waiting {
            service: exposed.service.clone(),
            until: WaitFor::Listening,
            port: Some(exposed.port),
        });
        let addrs = loop {
            let addrs = self.running_addrs(&service, exposed.port).await?;
            let mut answering = 0;
            for a in &addrs {
                if ns.connect(*a, Duration::from_millis(500)).await.is_ok() {
                    answering += 1;
                }
            }
            if !addrs.is_empty() && answering == addrs.len() {
                break addrs;
            }
            if Instant::now() >= deadline {
                return Err(DeployError::Service {
                    service: exposed.service.clone(),
                    message: format!(
                        "{answering} of {} tasks accept connections on port {}",
                        addrs.len(),
                        exposed.port
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        tell(Progress::Answering {
            service: exposed.service.clone(),
            port: exposed.port,
        });
        Ok(self
            .remember(&service, exposed.port, addrs)
            .expect("at least one address"))
    }

    /// Creates a project overlay with an allocated subnet, asking again should Docker refuse it.
    async fn ensure_overlay(
        &self,
        req: &DeployRequest<'_>,
        name: &str,
    ) -> Result<bool, DeployError> {
        let mut refused = Vec::new();
        loop {
            let subnet = req
                .subnets
                .subnet_for(name, &refused)
                .await
                .map_err(|source| DeployError::Subnet {
                    network: name.to_string(),
                    source,
                })?;
            match self
                .engine
                .ensure_overlay(name, Some(req.slug), &subnet, true)
                .await
            {
                Err(DockerError::SubnetTaken { subnet, .. }) if refused.len() < 4 => {
                    refused.push(subnet)
                }
                other => return Ok(other?),
            }
        }
    }

    /// Waits until a service has `replicas` running tasks; a deadline passed says what its
    /// tasks last reported.
    async fn wait_running(
        &self,
        service: &str,
        name: &str,
        replicas: usize,
        deadline: Instant,
    ) -> Result<(), DeployError> {
        loop {
            let tasks: Vec<TaskInfo> = self.engine.tasks(name, &self.gateway).await?;
            let running = tasks.iter().filter(|t| t.state == "running").count();
            if running >= replicas {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let why: Vec<String> = tasks
                    .iter()
                    .filter(|t| !t.message.is_empty())
                    .map(|t| format!("{}: {}", t.state, t.message))
                    .collect();
                return Err(DeployError::Service {
                    service: service.to_string(),
                    message: format!(
                        "{running} of {replicas} tasks running before the deploy timeout ({})",
                        why.join("; ")
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Removes a project's networks once no service of it is left. The manager drops an overlay
    /// at once, but this node lists it until its tasks' containers are gone (and refuses to
    /// remove one still in use): asked again until none is listed, for up to 30 s.
    async fn remove_networks(&self, slug: &str) -> Result<(), DockerError> {
        let give_up = Instant::now() + Duration::from_secs(30);
        loop {
            let mut nets = self.engine.networks(Some(slug)).await?;
            nets.retain(|n| {
                n == &network_name(slug) || n.starts_with(&format!("{}_", network_name(slug)))
            });
            if nets.is_empty() {
                return Ok(());
            }
            let mut last = None;
            for n in &nets {
                if let Err(e) = self.engine.remove_network(n).await {
                    last = Some(e);
                }
            }
            if Instant::now() >= give_up {
                return match last {
                    Some(e) => Err(e),
                    None => Err(DockerError::Swarm(format!(
                        "networks {nets:?} still listed 30 s after their removal"
                    ))),
                };
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn remove_services(&self, slug: &str, which: Which<'_>) -> Result<(), DockerError> {
        for s in self.engine.services(Some(slug)).await? {
            if s.deployment.is_some_and(which) {
                self.forget(&s.name);
                self.engine.remove_service(&s.name).await?;
            }
        }
        Ok(())
    }
}

/// What swarm mode cannot run yet, refused before anything is created, saying why.
fn refuse_unsupported(stack: &Stack) -> Result<(), DeployError> {
    let refuse = |service: &str, what: &str| DeployError::Service {
        service: service.to_string(),
        message: format!("{what} is not supported in swarm mode yet (docs/scale-out.md)"),
    };
    for svc in &stack.services {
        if svc.build.is_some() {
            return Err(refuse(&svc.name, "`build:`"));
        }
        if !svc.mounts.is_empty() {
            return Err(refuse(
                &svc.name,
                "a named volume (it would have to stay on one node)",
            ));
        }
        if !svc.files.is_empty() || !svc.secrets.is_empty() {
            return Err(refuse(&svc.name, "project files, secrets and configs"));
        }
    }
    Ok(())
}

impl Backend for SwarmBackend {
    fn kind(&self) -> &'static str {
        "swarm"
    }

    fn deploy<'a>(
        &'a self,
        req: &'a DeployRequest<'a>,
    ) -> BoxFuture<'a, Result<SocketAddr, DeployError>> {
        Box::pin(async move {
            let result = self.deploy_inner(req).await;
            if result.is_err() {
                let mine = |d: i64| d == req.deployment;
                if let Err(e) = self.remove_services(req.slug, &mine).await {
                    tracing::warn!(slug = %req.slug, error = %e, "cleanup after failed deploy");
                }
                let others = self.engine.services(Some(req.slug)).await;
                if others.is_ok_and(|s| s.is_empty())
                    && let Err(e) = self.remove_networks(req.slug).await
                {
                    tracing::warn!(slug = %req.slug, error = %e, "cleanup after failed deploy");
                }
            }
            result
        })
    }

    fn observe<'a>(
        &'a self,
        slug: &'a str,
        stack: &'a Stack,
        _gateway: &'a str,
    ) -> BoxFuture<'a, Result<Option<(i64, SocketAddr)>, DockerError>> {
        Box::pin(async move {
            self.namespace().await?;
            let services = self.engine.services(Some(slug)).await?;
            let mut deployments: Vec<i64> = services.iter().filter_map(|s| s.deployment).collect();
            deployments.sort_unstable();
            deployments.dedup();
            for dep in deployments.into_iter().rev() {
                let complete = stack.services.iter().all(|s| {
                    services
                        .iter()
                        .any(|m| m.deployment == Some(dep) && m.service == s.name)
                });
                if !complete {
                    continue;
                }
                let name = super::container_name(slug, &stack.expose.service, dep);
                let addrs = self.running_addrs(&name, stack.expose.port).await?;
                if let Some(key) = self.remember(&name, stack.expose.port, addrs) {
                    return Ok(Some((dep, key)));
                }
            }
            Ok(None)
        })
    }

    fn remove_deployments<'a>(&'a self, slug: &'a str, which: Which<'a>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.remove_services(slug, which).await {
                tracing::warn!(%slug, error = %e, "cleanup failed");
            }
        })
    }

    fn teardown<'a>(
        &'a self,
        slug: &'a str,
        purge: bool,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(async move {
            self.remove_services(slug, &|_| true).await?;
            self.remove_networks(slug).await?;
            if purge {
                for v in self.engine.volumes(Some(slug)).await? {
                    self.engine.remove_volume(&v).await?;
                }
            }
            Ok(())
        })
    }
}
