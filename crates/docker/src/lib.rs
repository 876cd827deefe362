//! The Docker engine, through bollard: the only module that imports it.
//!
//! It speaks in clubhost's own small types ([`ContainerPlan`], [`ManagedContainer`]) so the
//! deployer stays plain data and the rest of the code never sees Docker's models.
//!
//! Architecture invariant: clubhost never touches a Docker object that does not carry
//! `clubhost.managed=true` and this registry's `clubhost.instance` label. Every create here adds
//! them, every list filters on them, and every remove checks them first.

#![warn(missing_docs)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bollard::Docker;
use bollard::models::HealthStatusEnum;
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
use futures_util::StreamExt;

mod archive;
mod build;
mod create;
mod df;
mod images;
mod stats;
mod storage;
mod swarm;

pub use archive::{ExecOutput, VOLUME_MOUNT};
pub use build::BuildJob;
pub use create::{ContainerPlan, PlannedMount};
pub use df::DiskUsage;
pub use images::ImageHealth;
pub use stats::ContainerUsage;
pub use storage::{ImageRemoval, NetworkSubnets};
pub use swarm::{ManagedService, SwarmPlan, TaskInfo};

pub(crate) const LABEL_MANAGED: &str = "clubhost.managed";
/// Label naming the project (slug) an object belongs to; lists of one project filter on it.
pub const LABEL_PROJECT: &str = "clubhost.project";
pub(crate) const LABEL_INSTANCE: &str = "clubhost.instance";
/// Label naming the stack service a container runs; it is also the container's DNS alias.
pub const LABEL_SERVICE: &str = "clubhost.service";
/// Label carrying the registry's deployment id, so a new deploy can tell its containers from the
/// previous one's.
pub const LABEL_DEPLOYMENT: &str = "clubhost.deployment";

/// Everything an engine call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine did not answer at all (socket missing, daemon down, version negotiation failed).
    #[error("cannot reach the Docker engine at {endpoint}: {source}")]
    Connect {
        /// Where we tried: the `host` given, `DOCKER_HOST`, or the local socket.
        endpoint: String,
        /// What the client reported.
        source: bollard::errors::Error,
    },
    /// The engine answered with an error.
    #[error("Docker: {context}: {source}")]
    Api {
        /// What we were doing (`create container clubhost-blog-web-7`), for the message.
        context: String,
        /// What the engine reported.
        source: bollard::errors::Error,
    },
    /// The image is not on the engine and pulling it failed.
    #[error("image {image:?} is not present locally and could not be pulled: {reason}")]
    ImageUnavailable {
        /// The reference as the stack names it.
        image: String,
        /// Why the pull failed, as the engine said.
        reason: String,
    },
    #[error(
        "image {image:?} is here for {found} only, not for platform {platform}, and that variant \
         could not be had: {reason}"
    )]
    /// The stack asks for a platform (`platform:`) the local image is not built for, and the
    /// engine could not get that variant.
    ImagePlatform {
        /// The image reference.
        image: String,
        /// The platform the stack asked for (`linux/arm64`).
        platform: String,
        /// The platform the local image is for.
        found: String,
        /// Why the other variant could not be had (no registry reachable, none published).
        reason: String,
    },
    #[error(
        "Docker object {0:?} exists but was not created by this clubhost; refusing to touch it"
    )]
    /// The object exists but lacks our `clubhost.managed`/`clubhost.instance` labels; the string
    /// names it. Guards the architecture invariant above.
    NotOurs(String),
    /// An image build failed, ran out of memory or time; the message says which.
    #[error("{message}")]
    Build {
        /// What happened, for the member.
        message: String,
    },
    /// A local file an archive is read from or written to failed; the string says which and why.
    #[error("archive: {0}")]
    Archive(String),
    /// Docker refused the subnet: another network on the engine overlaps it (one made since the
    /// subnet was chosen, by another clubhost on this engine or by hand).
    #[error("Docker refused subnet {subnet} for network {network}: it overlaps another network")]
    SubnetTaken {
        /// The network being created.
        network: String,
        /// The CIDR it was to get.
        subnet: String,
    },
    /// Swarm mode cannot work here (not a manager, the anchor missing); the string says why.
    #[error("swarm: {0}")]
    Swarm(String),
    /// The engine's disk use (`/system/df`) could not be read.
    #[error("cannot read the Docker engine's disk use at {endpoint}: {reason}")]
    DiskUsage {
        /// Where the engine was asked.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
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

/// A container clubhost created, as Docker reports it now.
#[derive(Debug, Clone)]
pub struct ManagedContainer {
    /// Docker's container id.
    pub id: String,
    /// Container name without Docker's leading `/`.
    pub name: String,
    /// Slug of the owning project, from its label.
    pub project: String,
    /// Stack service it runs, from its label.
    pub service: String,
    /// Deployment id from its label; `None` if the label is missing or not a number.
    pub deployment: Option<i64>,
    /// Whether Docker reports it as running right now.
    pub running: bool,
}

/// What a container is doing, for waiting on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerStatus {
    /// Created but not running yet, or running with a healthcheck that has not passed yet.
    Starting,
    /// Running, with no healthcheck to wait for.
    Running,
    /// Running and its healthcheck passes.
    Healthy,
    /// Running but its healthcheck fails.
    Unhealthy,
    /// Not running (exited, or restarting after an exit), with the last exit code (-1 if unknown).
    Exited(i64),
}

/// A container lifecycle event from Docker's event stream, for one of our containers.
#[derive(Debug, Clone)]
pub struct ContainerEvent {
    /// Docker's container id.
    pub id: String,
    /// `die`, `start`, `health_status: healthy`, …
    pub action: String,
    /// Slug of the container's project, from its label.
    pub project: String,
    /// Stack service the container runs, from its label.
    pub service: String,
    /// Deployment id from its label; `None` if missing or not a number.
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

    /// Where the engine was reached: the host given to [`Engine::connect`], or the default it fell
    /// back to.
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

    /// Starts a created container (the deployer starts them in `depends_on` order).
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
