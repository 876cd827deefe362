//! What a deploy reports while it runs: plain data steps (network created, container started,
//! waiting for a service, …) handed to a sink the caller gives in [`super::DeployRequest`]. The
//! deployer only calls the sink; who listens (the control plane's per-project feed, the portal's
//! live progress) is none of its business.
//!
//! The first and last steps ([`Progress::Started`], [`Progress::RoutePublished`],
//! [`Progress::Running`], [`Progress::Failed`]) are the control plane's, which knows about
//! deployments and routes; the ones in between are the deployer's.

use std::fmt;

use serde::Serialize;

/// A sink for progress steps. Called inline, so it must be quick and never block.
pub type ProgressSink<'a> = &'a (dyn Fn(Progress) + Send + Sync);

/// What a service is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitFor {
    /// Running, and healthy when it has a healthcheck.
    Ready,
    /// Its healthcheck reports healthy (`service_healthy`).
    Healthy,
    /// A one-shot service exited with code 0 (`service_completed_successfully`).
    Completed,
    /// The exposed service accepts TCP connections on its port.
    Listening,
}

/// One step of a deploy, in the order they happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Progress {
    /// A new deployment began (`why`: approved, redeploy, restore…).
    Started {
        /// Registry id of the deploy attempt.
        deployment: i64,
        /// Why it was deployed, as the audit log gets it.
        why: String,
    },
    /// A service's build waits for a free build slot (`position` 1: next).
    BuildQueued {
        /// Stack service being built.
        service: String,
        /// Place in the server's build queue, from 1.
        position: usize,
    },
    /// A service's image build started.
    Building {
        /// Stack service being built.
        service: String,
        /// The tag it gets.
        image: String,
    },
    /// One line of a build's log.
    BuildLog {
        /// Stack service being built.
        service: String,
        /// The line, as the builder printed it.
        line: String,
    },
    /// A service's image was built.
    Built {
        /// Stack service built.
        service: String,
        /// The tag it got.
        image: String,
    },
    /// A service's image is present locally.
    ImageReady {
        /// Stack service the image is for.
        service: String,
        /// Image reference as the stack names it.
        image: String,
    },
    /// A project network exists (`created`: made by this deploy, not found from an earlier one).
    Network {
        /// Docker network name (`clubhost-<slug>` or `clubhost-<slug>_<name>`).
        name: String,
        /// Whether this deploy made it (`false`: it was there already).
        created: bool,
    },
    /// A volume exists (`created` as for networks: an existing volume keeps its data).
    Volume {
        /// Docker volume name (`clubhost-<slug>-<name>`).
        name: String,
        /// Whether this deploy made it (`false`: it was there already, with its data).
        created: bool,
    },
    /// A service's container was created (not started yet).
    ContainerCreated {
        /// Stack service the container runs.
        service: String,
        /// Container name (`clubhost-<slug>-<service>-<deployment id>`).
        container: String,
    },
    /// A service's container was started.
    ContainerStarted {
        /// Stack service the container runs.
        service: String,
    },
    /// Waiting for a service (a dependency, or the exposed one before the route moves).
    Waiting {
        /// Service waited for.
        service: String,
        /// Condition waited for.
        until: WaitFor,
        /// The port, when waiting for the exposed service to accept connections.
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
    },
    /// The exposed service answers on the gateway network.
    Answering {
        /// The exposed service.
        service: String,
        /// Container port it answers on.
        port: u16,
    },
    /// The route now points at the new deployment.
    RoutePublished {
        /// Path prefix the project is served at (`/<slug>` or `/`).
        route: String,
    },
    /// The deploy finished and the project is running (last step).
    Running,
    /// The deploy failed and what it created is gone (last step). `still_serving`: a previous
    /// deployment keeps answering visitors.
    Failed {
        /// Why, as shown to the member.
        reason: String,
        /// A previous deployment keeps answering visitors.
        still_serving: bool,
    },
}

impl Progress {
    /// Whether this is the last step of a deploy.
    pub fn is_last(&self) -> bool {
        matches!(self, Progress::Running | Progress::Failed { .. })
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let made = |created: &bool| if *created { "created" } else { "already there" };
        match self {
            Progress::Started { deployment, why } => {
                write!(f, "deploy #{deployment} started ({why})")
            }
            Progress::BuildQueued { service, position } => write!(
                f,
                "build of {service} waits for a build slot (position {position} in the queue)"
            ),
            Progress::Building { service, image } => write!(f, "building {image} for {service}"),
            Progress::BuildLog { service, line } => write!(f, "{service} build | {line}"),
            Progress::Built { service, image } => write!(f, "built {image} for {service}"),
            Progress::ImageReady { service, image } => {
                write!(f, "image {image} ready for {service}")
            }
            Progress::Network { name, created } => write!(f, "network {name} {}", made(created)),
            Progress::Volume { name, created } => write!(f, "volume {name} {}", made(created)),
            Progress::ContainerCreated { container, .. } => {
                write!(f, "container {container} created")
            }
            Progress::ContainerStarted { service } => write!(f, "container of {service} started"),
            Progress::Waiting {
                service,
                until,
                port,
            } => match until {
                WaitFor::Ready => write!(f, "waiting for {service} to be ready"),
                WaitFor::Healthy => write!(f, "waiting for {service} to be healthy"),
                WaitFor::Completed => write!(f, "waiting for {service} to finish"),
                WaitFor::Listening => write!(
                    f,
                    "waiting for {service} to accept connections on port {}",
                    port.unwrap_or_default()
                ),
            },
            Progress::Answering { service, port } => {
                write!(f, "{service} answers on port {port}")
            }
            Progress::RoutePublished { route } => write!(f, "route {route} published"),
            Progress::Running => f.write_str("deploy finished: the project is running"),
            Progress::Failed {
                reason,
                still_serving,
            } => {
                write!(f, "deploy failed: {reason}")?;
                if *still_serving {
                    f.write_str(" (the previous deployment keeps serving)")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_serialize_as_tagged_plain_data() {
        let s = Progress::Waiting {
            service: "db".into(),
            until: WaitFor::Healthy,
            port: None,
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"step": "waiting", "service": "db", "until": "healthy"})
        );
        assert_eq!(s.to_string(), "waiting for db to be healthy");
        assert_eq!(
            serde_json::to_value(Progress::Running).unwrap(),
            serde_json::json!({"step": "running"})
        );
        assert!(Progress::Running.is_last() && !s.is_last());
    }
}
