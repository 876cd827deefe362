//! The Docker engine, through bollard: the only module that imports it.
//!
//! It speaks in clubhost's own small types ([`ContainerPlan`], [`ManagedContainer`]) so the
//! deployer stays plain data and the rest of the code never sees Docker's models.
//!
//! Architecture invariant: clubhost never touches a Docker object that does not carry
//! `clubhost.managed=true` and this registry's `clubhost.instance` label. Every create here adds
//! them, every list filters on them, and every remove checks them first.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HealthStatusEnum, HostConfig, Mount,
    MountType, NetworkConnectRequest, NetworkingConfig, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;

mod stats;
mod storage;

pub use stats::ContainerUsage;
pub use storage::{ImageRemoval, NetworkSubnets};

pub const LABEL_MANAGED: &str = "clubhost.managed";
pub const LABEL_PROJECT: &str = "clubhost.project";
pub const LABEL_INSTANCE: &str = "clubhost.instance";
pub const LABEL_SERVICE: &str = "clubhost.service";
pub const LABEL_DEPLOYMENT: &str = "clubhost.deployment";

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker engine at {endpoint}: {source}")]
    Connect {
        endpoint: String,
        source: bollard::errors::Error,
    },
    #[error("Docker: {context}: {source}")]
    Api {
        context: String,
        source: bollard::errors::Error,
    },
    #[error("image {image:?} is not present locally and could not be pulled: {reason}")]
    ImageUnavailable { image: String, reason: String },
    #[error(
        "Docker object {0:?} exists but was not created by this clubhost; refusing to touch it"
    )]
    NotOurs(String),
    /// Docker refused the subnet: another network on the engine overlaps it (one made since the
    /// subnet was chosen, by another clubhost on this engine or by hand).
    #[error("Docker refused subnet {subnet} for network {network}: it overlaps another network")]
    SubnetTaken { network: String, subnet: String },
}

type Result<T> = std::result::Result<T, DockerError>;

fn api(context: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> DockerError {
    let context = context.into();
    move |source| DockerError::Api { context, source }
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// One container as clubhost wants it created.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerPlan {
    pub name: String,
    pub image: String,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    /// (volume name, target, read only)
    pub volumes: Vec<(String, String, bool)>,
    pub healthcheck: Option<clubhost_stack::Healthcheck>,
    pub restart: clubhost_stack::RestartPolicy,
    /// The network the container is created on, with its DNS aliases there.
    pub network: String,
    pub aliases: Vec<String>,
    /// Further networks to join before start (API 1.41 creates with one network only).
    pub extra_networks: Vec<String>,
    /// Further networks of the project itself, joined with the same DNS aliases as `network`
    /// (the gateway, in `extra_networks`, gets none: other projects are on it).
    pub project_networks: Vec<String>,
    /// Limits from the stack after the club's defaults and caps: every container has all three.
    pub memory_bytes: i64,
    pub nano_cpus: i64,
    pub pids_limit: i64,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    /// tmpfs mounts: container path → mount options.
    pub tmpfs: HashMap<String, String>,
    /// Read-only root filesystem.
    pub read_only: bool,
    pub stop_signal: Option<String>,
    /// Seconds Docker waits after the stop signal before killing.
    pub stop_timeout: Option<i64>,
    /// Capabilities dropped (adding is never allowed).
    pub cap_drop: Vec<String>,
}

/// A container clubhost created, as Docker reports it now.
#[derive(Debug, Clone)]
pub struct ManagedContainer {
    pub id: String,
    pub name: String,
    pub project: String,
    pub service: String,
    pub deployment: Option<i64>,
    pub running: bool,
}

/// What a container is doing, for waiting on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerStatus {
    Starting,
    Running,
    Healthy,
    Unhealthy,
    Exited(i64),
}

/// A container lifecycle event from Docker's event stream, for one of our containers.
#[derive(Debug, Clone)]
pub struct ContainerEvent {
    pub id: String,
    /// `die`, `start`, `health_status: healthy`, …
    pub action: String,
    pub project: String,
    pub service: String,
    pub deployment: Option<i64>,
}

/// A connected engine, with the API version agreed with it.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    /// Every object we create carries it; lists filter on it so two clubhost registries sharing
    /// one engine (as parallel tests do) never see each other's objects.
    instance: String,
    endpoint: String,
}

impl Engine {
    /// Connects to `host` (or `DOCKER_HOST`, else the local socket) and negotiates the API version
    /// down to what the engine speaks (1.41 on Docker 20.10).
    pub async fn connect(host: Option<&str>, instance: &str) -> Result<Engine> {
        let endpoint = host
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        let connect_err = |source| DockerError::Connect {
            endpoint: endpoint.clone(),
            source,
        };
        let docker = Docker::connect_with_host(&endpoint).map_err(connect_err)?;
        let docker = docker.negotiate_version().await.map_err(connect_err)?;
        Ok(Engine {
            docker,
            instance: instance.to_string(),
            endpoint,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Fails unless the engine answers now.
    pub async fn ping(&self) -> Result<()> {
        self.docker
            .ping()
            .await
            .map(|_| ())
            .map_err(|source| DockerError::Connect {
                endpoint: self.endpoint.clone(),
                source,
            })
    }

    /// (engine version, negotiated API version)
    pub async fn version(&self) -> Result<(String, String)> {
        let v = self.docker.version().await.map_err(api("read version"))?;
        let negotiated = self.docker.client_version();
        Ok((
            v.version.unwrap_or_default(),
            format!("{}.{}", negotiated.major_version, negotiated.minor_version),
        ))
    }

    fn labels(&self, project: Option<&str>) -> HashMap<String, String> {
        let mut l = HashMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_INSTANCE.to_string(), self.instance.clone()),
        ]);
        if let Some(p) = project {
            l.insert(LABEL_PROJECT.to_string(), p.to_string());
        }
        l
    }

    fn is_ours(&self, labels: Option<&HashMap<String, String>>) -> bool {
        labels.is_some_and(|l| {
            l.get(LABEL_MANAGED).map(String::as_str) == Some("true")
                && l.get(LABEL_INSTANCE) == Some(&self.instance)
        })
    }

    fn label_filter(&self, project: Option<&str>) -> HashMap<String, Vec<String>> {
        let mut labels = vec![
            format!("{LABEL_MANAGED}=true"),
            format!("{LABEL_INSTANCE}={}", self.instance),
        ];
        if let Some(p) = project {
            labels.push(format!("{LABEL_PROJECT}={p}"));
        }
        HashMap::from([("label".to_string(), labels)])
    }

    // ---- containers ----

    /// Creates (not starts) a container and joins its extra networks; returns its id.
    pub async fn create_container(&self, plan: &ContainerPlan) -> Result<String> {
        // The member's labels first, clubhost's own over them: a stack cannot pose as another
        // project or instance.
        let mut labels: HashMap<String, String> = plan
            .labels
            .iter()
            .filter(|(k, _)| !k.starts_with("clubhost."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.extend(self.labels(None));
        labels.extend(
            plan.labels
                .iter()
                .filter(|(k, _)| {
                    k.starts_with("clubhost.") && *k != LABEL_MANAGED && *k != LABEL_INSTANCE
                })
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        let host_config = HostConfig {
            memory: Some(plan.memory_bytes),
            // Memory+swap equal to memory: no swap beyond the limit.
            memory_swap: Some(plan.memory_bytes),
            nano_cpus: Some(plan.nano_cpus),
            pids_limit: Some(plan.pids_limit),
            readonly_rootfs: Some(plan.read_only),
            tmpfs: (!plan.tmpfs.is_empty()).then(|| plan.tmpfs.clone()),
            cap_drop: (!plan.cap_drop.is_empty()).then(|| plan.cap_drop.clone()),
            // docker-init as PID 1: processes that ignore SIGTERM still stop at once.
            init: Some(true),
            security_opt: Some(vec!["no-new-privileges:true".into()]),
            restart_policy: Some(restart_policy(plan.restart)),
            mounts: Some(
                plan.volumes
                    .iter()
                    .map(|(source, target, ro)| Mount {
                        typ: Some(MountType::VOLUME),
                        source: Some(source.clone()),
                        target: Some(target.clone()),
                        read_only: Some(*ro),
                        ..Default::default()
                    })
                    .collect(),
            ),
            network_mode: Some(plan.network.clone()),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(plan.image.clone()),
            cmd: plan.cmd.clone(),
            entrypoint: plan.entrypoint.clone(),
            env: Some(plan.env.clone()),
            labels: Some(labels),
            healthcheck: plan.healthcheck.as_ref().map(health_config),
            user: plan.user.clone(),
            working_dir: plan.working_dir.clone(),
            stop_signal: plan.stop_signal.clone(),
            stop_timeout: plan.stop_timeout,
            host_config: Some(host_config),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    plan.network.clone(),
                    EndpointSettings {
                        aliases: Some(plan.aliases.clone()),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default()
            .name(&plan.name)
            .build();
        let created = self
            .docker
            .create_container(Some(opts), body)
            .await
            .map_err(api(format!("create container {}", plan.name)))?;
        for net in &plan.project_networks {
            let req = NetworkConnectRequest {
                container: created.id.clone(),
                endpoint_config: Some(EndpointSettings {
                    aliases: Some(plan.aliases.clone()),
                    ..Default::default()
                }),
            };
            self.docker
                .connect_network(net, req)
                .await
                .map_err(api(format!("connect {} to network {net}", plan.name)))?;
        }
        for net in &plan.extra_networks {
            let req = NetworkConnectRequest {
                container: created.id.clone(),
                endpoint_config: Some(EndpointSettings::default()),
            };
            self.docker
                .connect_network(net, req)
                .await
                .map_err(api(format!("connect {} to network {net}", plan.name)))?;
        }
        Ok(created.id)
    }

    pub async fn start_container(&self, id: &str) -> Result<()> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(api(format!("start container {id}")))
    }

    /// Force-removes a container of ours (stopping it first); a missing one is already gone.
    pub async fn remove_container(&self, id: &str) -> Result<()> {
        match self.docker.inspect_container(id, None).await {
            Ok(c) if self.is_ours(c.config.as_ref().and_then(|c| c.labels.as_ref())) => {}
            Ok(_) => return Err(DockerError::NotOurs(id.to_string())),
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(api(format!("inspect container {id}"))(e)),
        }
        let opts = RemoveContainerOptionsBuilder::default().force(true).build();
        match self.docker.remove_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // 409: removal already in progress (a concurrent remove); it will be gone.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(api(format!("remove container {id}"))(e)),
        }
    }

    /// Our containers, for one project or all, running or not.
    pub async fn containers(&self, project: Option<&str>) -> Result<Vec<ManagedContainer>> {
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&self.label_filter(project))
            .build();
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(api("list containers"))?;
        Ok(list
            .into_iter()
            .map(|c| {
                let labels = c.labels.unwrap_or_default();
                let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
                ManagedContainer {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_string(),
                    project: get(LABEL_PROJECT),
                    service: get(LABEL_SERVICE),
                    deployment: labels.get(LABEL_DEPLOYMENT).and_then(|d| d.parse().ok()),
                    running: c.state.map(|s| s.to_string()) == Some("running".into()),
                }
            })
            .collect())
    }

    /// The container's state and health now.
    pub async fn status(&self, id: &str) -> Result<ContainerStatus> {
        let c = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(api(format!("inspect container {id}")))?;
        let state = c.state.unwrap_or_default();
        if state.running != Some(true) || state.restarting == Some(true) {
            if state.status.map(|s| s.to_string()).as_deref() == Some("created") {
                return Ok(ContainerStatus::Starting);
            }
            return Ok(ContainerStatus::Exited(state.exit_code.unwrap_or(-1)));
        }
        Ok(match state.health.and_then(|h| h.status) {
            Some(HealthStatusEnum::HEALTHY) => ContainerStatus::Healthy,
            Some(HealthStatusEnum::UNHEALTHY) => ContainerStatus::Unhealthy,
            Some(HealthStatusEnum::STARTING) => ContainerStatus::Starting,
            _ => ContainerStatus::Running,
        })
    }

    /// The container's address on `network`, if it has one.
    pub async fn address_on(&self, id: &str, network: &str) -> Result<Option<IpAddr>> {
        let c = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(api(format!("inspect container {id}")))?;
        Ok(c.network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove(network))
            .and_then(|e| e.ip_address)
            .and_then(|ip| ip.parse().ok()))
    }

    /// Names of the networks a container is attached to.
    pub async fn container_networks(&self, id: &str) -> Result<Vec<String>> {
        let c = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(api(format!("inspect container {id}")))?;
        let mut names: Vec<String> = c
            .network_settings
            .and_then(|n| n.networks)
            .map(|n| n.into_keys().collect())
            .unwrap_or_default();
        names.sort();
        Ok(names)
    }

    /// Follows Docker's event stream for this instance's containers (start, die, health). The
    /// stream ends when the engine goes away; the caller reconnects.
    pub fn container_events(
        &self,
    ) -> impl futures_util::Stream<Item = Result<ContainerEvent>> + Send + 'static {
        use bollard::query_parameters::EventsOptionsBuilder;
        let mut filters = self.label_filter(None);
        filters.insert("type".into(), vec!["container".into()]);
        filters.insert(
            "event".into(),
            vec!["start".into(), "die".into(), "health_status".into()],
        );
        let opts = EventsOptionsBuilder::default().filters(&filters).build();
        self.docker.events(Some(opts)).map(|event| {
            let event = event.map_err(api("follow events"))?;
            let actor = event.actor.unwrap_or_default();
            let attrs = actor.attributes.unwrap_or_default();
            let get = |k: &str| attrs.get(k).cloned().unwrap_or_default();
            Ok(ContainerEvent {
                id: actor.id.unwrap_or_default(),
                action: event.action.unwrap_or_default(),
                project: get(LABEL_PROJECT),
                service: get(LABEL_SERVICE),
                deployment: attrs.get(LABEL_DEPLOYMENT).and_then(|d| d.parse().ok()),
            })
        })
    }

    /// The last lines a container printed, for failure reasons.
    pub async fn log_tail(&self, id: &str, lines: usize) -> String {
        use bollard::query_parameters::LogsOptionsBuilder;
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut out = String::new();
        let mut stream = self.docker.logs(id, Some(opts));
        let read = async {
            while let Some(Ok(chunk)) = stream.next().await {
                out.push_str(&chunk.to_string());
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), read).await;
        out.trim_end().to_string()
    }

    /// Follows a container's output (its last `tail` lines first), one chunk per item, until the
    /// container stops, the engine errs, or the stream is dropped. For the portal's live logs.
    pub fn log_follow(
        &self,
        id: &str,
        tail: usize,
    ) -> impl futures_util::Stream<Item = String> + Send + 'static {
        use bollard::query_parameters::LogsOptionsBuilder;
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .tail(&tail.to_string())
            .build();
        self.docker
            .logs(id, Some(opts))
            .take_while(|r| futures_util::future::ready(r.is_ok()))
            .filter_map(|r| futures_util::future::ready(r.ok().map(|c| c.to_string())))
    }
}

/// Joins an address and port into the upstream the proxy dials.
pub fn upstream(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

fn split_image(image: &str) -> (&str, &str) {
    // A tag follows the last ':' unless that ':' belongs to a registry port (then a '/' follows).
    if image.contains('@') {
        return (image, "");
    }
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    }
}

fn restart_policy(p: clubhost_stack::RestartPolicy) -> RestartPolicy {
    use clubhost_stack::RestartPolicy as P;
    let (name, max) = match p {
        P::No => (RestartPolicyNameEnum::NO, None),
        P::Always => (RestartPolicyNameEnum::ALWAYS, None),
        P::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
        P::OnFailure(n) => (RestartPolicyNameEnum::ON_FAILURE, Some(n as i64)),
    };
    RestartPolicy {
        name: Some(name),
        maximum_retry_count: max,
    }
}

fn health_config(h: &clubhost_stack::Healthcheck) -> HealthConfig {
    let ns = |d: Duration| d.as_nanos() as i64;
    HealthConfig {
        test: Some(h.test.clone()),
        interval: Some(ns(h.interval)),
        timeout: Some(ns(h.timeout)),
        retries: Some(h.retries as i64),
        start_period: Some(ns(h.start_period)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_split_into_repo_and_tag() {
        assert_eq!(split_image("busybox"), ("busybox", "latest"));
        assert_eq!(split_image("mysql:5.7"), ("mysql", "5.7"));
        assert_eq!(split_image("reg:5000/app"), ("reg:5000/app", "latest"));
        assert_eq!(split_image("reg:5000/app:1"), ("reg:5000/app", "1"));
    }
}
