//! Docker Swarm, for `[docker] mode = "swarm"` (docs/scale-out.md): whether this engine is a
//! manager, overlay networks, services made from the same [`ContainerPlan`] engine mode creates
//! containers from, their tasks' addresses, and the anchor container whose network namespace the
//! proxy's sockets are made in.
//!
//! Every object carries this instance's labels and every remove checks them, as for containers.
//! Tasks are read from `GET /tasks` by hand: bollard's `Task` model has no `NetworksAttachments`,
//! which is where a task's addresses are.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, EndpointSpec, EndpointSpecModeEnum, HostConfig, Limit,
    NetworkAttachmentConfig, NetworkCreateRequest, NetworkingConfig, RestartPolicy,
    RestartPolicyNameEnum, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum,
    ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec,
    TaskSpecContainerSpec, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};
use bollard::query_parameters::{CreateContainerOptionsBuilder, ListServicesOptionsBuilder};

use super::create::{health_config, ulimit};
use super::df::{exchange, split_answer};
use super::storage::ipam;
use super::{
    ContainerPlan, DockerError, Engine, LABEL_DEPLOYMENT, LABEL_MANAGED, LABEL_PROJECT,
    LABEL_SERVICE, Result, api, is_not_found,
};

/// A Swarm service clubhost created, as the manager reports it now.
#[derive(Debug, Clone)]
pub struct ManagedService {
    /// The service's name (`clubhost-<slug>-<service>-<deployment>`).
    pub name: String,
    /// Slug of the owning project, from its label.
    pub project: String,
    /// Stack service it runs, from its label.
    pub service: String,
    /// Deployment id from its label.
    pub deployment: Option<i64>,
    /// Replicas asked for.
    pub replicas: u64,
}

/// One task of a service, as the manager reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    /// Task id.
    pub id: String,
    /// `running`, `starting`, `failed`, `rejected`, …
    pub state: String,
    /// What the orchestrator wants it to be (`running`, `shutdown`).
    pub desired: String,
    /// Why it failed or what it is waiting for (`Status.Err`, else `Status.Message`).
    pub message: String,
    /// Its address on the network asked about, if it has one there.
    pub addr: Option<IpAddr>,
    /// The node it runs on.
    pub node: String,
}

/// How a service is run by Swarm, beyond its container: replicas and the update order.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmPlan {
    /// The container every task runs; `network`, `project_networks` and `extra_networks` become
    /// the service's network attachments (aliases on the project's own).
    pub container: ContainerPlan,
    /// Tasks to run.
    pub replicas: u64,
}

impl Engine {
    /// Whether this engine is a manager of an active swarm.
    pub async fn swarm_manager(&self) -> Result<bool> {
        let info = self.docker.info().await.map_err(api("read engine info"))?;
        let swarm = info.swarm.unwrap_or_default();
        let active = swarm
            .local_node_state
            .is_some_and(|s| s.to_string() == "active");
        Ok(active && swarm.control_available.unwrap_or(false))
    }

    /// Creates an overlay network if missing (`internal` for a project's own, `attachable` for
    /// the gateway the anchor joins); returns whether it was created now.
    pub async fn ensure_overlay(
        &self,
        name: &str,
        project: Option<&str>,
        subnet: &str,
        internal: bool,
    ) -> Result<bool> {
        // The gateway is shared like engine mode's bridge: no instance label, so no instance
        // takes it for an orphan of its own.
        let labels = match project {
            Some(_) => self.labels(project),
            None => shared_labels("gateway"),
        };
        let req = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("overlay".into()),
            internal: Some(internal),
            attachable: Some(!internal),
            labels: Some(labels),
            ipam: ipam(subnet),
            ..Default::default()
        };
        match project {
            Some(_) => self.ensure_network(req, |l| self.is_ours(Some(l))).await,
            None => self.ensure_network(req, |l| is_shared(l, "gateway")).await,
        }
    }

    /// Creates a service from `plan`: dnsrr (no IPVS), start-first updates that roll back on
    /// failure, the container's limits as the service's resources.
    pub async fn create_service(&self, plan: &SwarmPlan) -> Result<()> {
        let c = &plan.container;
        let v = self.docker.client_version();
        let labels = self.plan_labels(c);
        let aliased = std::iter::once(&c.network).chain(&c.project_networks);
        let mut networks: Vec<NetworkAttachmentConfig> = aliased
            .map(|n| NetworkAttachmentConfig {
                target: Some(n.clone()),
                aliases: Some(c.aliases.clone()),
                ..Default::default()
            })
            .collect();
        networks.extend(c.extra_networks.iter().map(|n| NetworkAttachmentConfig {
            target: Some(n.clone()),
            ..Default::default()
        }));
        use clubhost_stack::RestartPolicy as P;
        let (condition, attempts) = match c.restart {
            P::No => (TaskSpecRestartPolicyConditionEnum::NONE, None),
            P::OnFailure(0) => (TaskSpecRestartPolicyConditionEnum::ON_FAILURE, None),
            P::OnFailure(n) => (TaskSpecRestartPolicyConditionEnum::ON_FAILURE, Some(n)),
            P::Always | P::UnlessStopped => (TaskSpecRestartPolicyConditionEnum::ANY, None),
        };
        let monitor = Some(Duration::from_secs(10).as_nanos() as i64);
        let spec = ServiceSpec {
            name: Some(c.name.clone()),
            labels: Some(labels.clone()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(c.image.clone()),
                    labels: Some(labels),
                    command: c.entrypoint.clone(),
                    args: c.cmd.clone(),
                    hostname: c.hostname.clone(),
                    env: Some(c.env.clone()),
                    dir: c.working_dir.clone(),
                    user: c.user.clone(),
                    read_only: Some(c.read_only),
                    stop_signal: c.stop_signal.clone(),
                    stop_grace_period: c.stop_timeout.map(|s| s * 1_000_000_000),
                    health_check: c
                        .healthcheck
                        .as_ref()
                        .map(|h| health_config(h, (v.major_version, v.minor_version))),
                    init: Some(c.init),
                    capability_drop: (!c.cap_drop.is_empty()).then(|| c.cap_drop.clone()),
                    ulimits: (!c.ulimits.is_empty())
                        .then(|| c.ulimits.iter().map(ulimit).collect()),
                    ..Default::default()
                }),
                resources: Some(TaskSpecResources {
                    limits: Some(Limit {
                        nano_cpus: Some(c.nano_cpus),
                        memory_bytes: Some(c.memory_bytes),
                        pids: Some(c.pids_limit),
                    }),
                    ..Default::default()
                }),
                restart_policy: Some(TaskSpecRestartPolicy {
                    condition: Some(condition),
                    max_attempts: attempts.map(i64::from),
                    ..Default::default()
                }),
                networks: Some(networks),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    replicas: Some(plan.replicas as i64),
                }),
                ..Default::default()
            }),
            update_config: Some(ServiceSpecUpdateConfig {
                parallelism: Some(1),
                order: Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST),
                failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
                monitor,
                ..Default::default()
            }),
            rollback_config: Some(ServiceSpecRollbackConfig {
                parallelism: Some(1),
                order: Some(ServiceSpecRollbackConfigOrderEnum::START_FIRST),
                failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
                monitor,
                ..Default::default()
            }),
            endpoint_spec: Some(EndpointSpec {
                mode: Some(EndpointSpecModeEnum::DNSRR),
                ports: None,
            }),
            ..Default::default()
        };
        self.docker
            .create_service(spec, None)
            .await
            .map_err(api(format!("create service {}", c.name)))?;
        Ok(())
    }

    /// Our services, of one project or all.
    pub async fn services(&self, project: Option<&str>) -> Result<Vec<ManagedService>> {
        let opts = ListServicesOptionsBuilder::default()
            .filters(&self.label_filter(project))
            .build();
        let list = self
            .docker
            .list_services(Some(opts))
            .await
            .map_err(api("list services"))?;
        Ok(list
            .into_iter()
            .filter_map(|s| {
                let spec = s.spec?;
                let labels = spec.labels.clone().unwrap_or_default();
                if !self.is_ours(Some(&labels)) {
                    return None;
                }
                let replicas = spec
                    .mode
                    .and_then(|m| m.replicated)
                    .and_then(|r| r.replicas)
                    .unwrap_or(0)
                    .max(0) as u64;
                Some(ManagedService {
                    name: spec.name.unwrap_or_default(),
                    project: labels.get(LABEL_PROJECT).cloned().unwrap_or_default(),
                    service: labels.get(LABEL_SERVICE).cloned().unwrap_or_default(),
                    deployment: labels.get(LABEL_DEPLOYMENT).and_then(|d| d.parse().ok()),
                    replicas,
                })
            })
            .collect())
    }

    /// Removes a service of ours; a missing one is already gone.
    pub async fn remove_service(&self, name: &str) -> Result<()> {
        let found = match self.docker.inspect_service(name, None).await {
            Ok(s) => s,
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(api(format!("inspect service {name}"))(e)),
        };
        let labels = found.spec.and_then(|s| s.labels);
        if !self.is_ours(labels.as_ref()) {
            return Err(DockerError::NotOurs(format!("service {name}")));
        }
        match self.docker.delete_service(name).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(api(format!("remove service {name}"))(e)),
        }
    }

    /// The tasks of one service (every state Swarm still lists), each with its address on
    /// `network`.
    pub async fn tasks(&self, service: &str, network: &str) -> Result<Vec<TaskInfo>> {
        let filters = serde_json::json!({ "service": [service] }).to_string();
        let v = self.docker.client_version();
        let path = format!(
            "/v{}.{}/tasks?filters={}",
            v.major_version,
            v.minor_version,
            percent(&filters)
        );
        let body = self.get_json(&path).await?;
        parse_tasks(&body, network).map_err(|reason| DockerError::Api {
            context: format!("list tasks of {service}"),
            source: bollard::errors::Error::IOError {
                err: std::io::Error::other(reason),
            },
        })
    }

    /// A `GET` of the engine's API read by hand (for answers bollard's models drop parts of).
    async fn get_json(&self, path: &str) -> Result<Vec<u8>> {
        let fail = |reason: String| DockerError::Api {
            context: format!("GET {path}"),
            source: bollard::errors::Error::IOError {
                err: std::io::Error::other(reason),
            },
        };
        let ask = async {
            if let Some(socket) = self.endpoint.strip_prefix("unix://") {
                exchange(tokio::net::UnixStream::connect(socket).await?, path).await
            } else {
                let addr = self
                    .endpoint
                    .strip_prefix("tcp://")
                    .or_else(|| self.endpoint.strip_prefix("http://"))
                    .unwrap_or(&self.endpoint)
                    .trim_end_matches('/');
                exchange(tokio::net::TcpStream::connect(addr).await?, path).await
            }
        };
        let raw = tokio::time::timeout(Duration::from_secs(30), ask)
            .await
            .map_err(|_| fail("no answer in 30 s".into()))?
            .map_err(|e| fail(e.to_string()))?;
        let (status, body) = split_answer(&raw).map_err(fail)?;
        if status != 200 {
            let said = String::from_utf8_lossy(body);
            return Err(fail(format!("HTTP {status}: {}", said.trim())));
        }
        Ok(body.to_vec())
    }

    /// Starts (creating it if needed) the anchor: a plain container on the attachable gateway
    /// overlay that only sleeps, so clubhost can make sockets in its network namespace. No
    /// capabilities, read-only root, nothing published. Returns its process id on the host.
    pub async fn ensure_anchor(&self, name: &str, image: &str, network: &str) -> Result<u32> {
        if let Some(pid) = self.anchor_pid(name).await? {
            return Ok(pid);
        }
        let labels = shared_labels("anchor");
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["sleep".into(), "2147483647".into()]),
            labels: Some(labels),
            host_config: Some(HostConfig {
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges:true".into()]),
                readonly_rootfs: Some(true),
                memory: Some(16 << 20),
                pids_limit: Some(8),
                init: Some(true),
                network_mode: Some(network.to_string()),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.to_string(),
                    EndpointSettings::default(),
                )])),
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default().name(name).build();
        match self.docker.create_container(Some(opts), body).await {
            Ok(_) => {}
            // Another start made it meanwhile: use that one.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => {}
            Err(e) => return Err(api(format!("create anchor {name}"))(e)),
        }
        // A new overlay reaches the engine's local view a moment after it is created: until
        // then starting a container on it fails with "network not found".
        let mut tries = 0;
        loop {
            match self.anchor_pid(name).await {
                Ok(Some(pid)) => return Ok(pid),
                Ok(None) => {
                    return Err(DockerError::Swarm(format!("anchor {name} did not start")));
                }
                Err(_) if tries < 40 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The anchor's host pid while it runs; `None` when it is missing or stopped. Refuses a
    /// container of that name that is not ours.
    pub async fn anchor_pid(&self, name: &str) -> Result<Option<u32>> {
        let c = match self.docker.inspect_container(name, None).await {
            Ok(c) => c,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(api(format!("inspect anchor {name}"))(e)),
        };
        let labels = c.config.as_ref().and_then(|c| c.labels.clone());
        if !labels.is_some_and(|l| is_shared(&l, "anchor")) {
            return Err(DockerError::NotOurs(format!("container {name}")));
        }
        let state = c.state.unwrap_or_default();
        if state.running != Some(true) {
            if state.status.is_some() {
                // Stopped: start it again.
                self.docker
                    .start_container(name, None)
                    .await
                    .map_err(api(format!("start anchor {name}")))?;
                return Box::pin(self.anchor_pid(name)).await;
            }
            return Ok(None);
        }
        Ok(state.pid.filter(|p| *p > 0).map(|p| p as u32))
    }
}

/// Labels of an object clubhost makes but no project owns (the gateway overlay, the anchor):
/// managed and its role, and no instance label, so no instance's orphan sweep or `gc` takes it.
fn shared_labels(role: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        ("clubhost.role".to_string(), role.to_string()),
    ])
}

fn is_shared(labels: &HashMap<String, String>, role: &str) -> bool {
    labels.get(LABEL_MANAGED).is_some_and(|v| v == "true")
        && labels.get("clubhost.role").is_some_and(|r| r == role)
}

/// Percent-encodes a query value (the JSON filters).
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The tasks of a `GET /tasks` answer, each with its address on the network named `network`.
fn parse_tasks(body: &[u8], network: &str) -> std::result::Result<Vec<TaskInfo>, String> {
    let list: Vec<serde_json::Value> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(list
        .iter()
        .map(|t| {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            let status = &t["Status"];
            let err = s(&status["Err"]);
            let addr = t["NetworksAttachments"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["Network"]["Spec"]["Name"].as_str() == Some(network))
                .flat_map(|a| a["Addresses"].as_array().cloned().unwrap_or_default())
                .filter_map(|a| a.as_str()?.split('/').next()?.parse().ok())
                .next();
            TaskInfo {
                id: s(&t["ID"]),
                state: s(&status["State"]),
                desired: s(&t["DesiredState"]),
                message: if err.is_empty() {
                    s(&status["Message"])
                } else {
                    err
                },
                addr,
                node: s(&t["NodeID"]),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tasks_address_is_the_one_on_the_network_asked_about() {
        let body = br#"[{"ID":"t1","NodeID":"n1","DesiredState":"running",
            "Status":{"State":"running","Message":"started"},
            "NetworksAttachments":[
              {"Network":{"Spec":{"Name":"clubhost-blog"}},"Addresses":["10.213.0.34/27"]},
              {"Network":{"Spec":{"Name":"gw"}},"Addresses":["10.213.4.7/22"]}]},
            {"ID":"t2","DesiredState":"shutdown","Status":{"State":"failed","Err":"exit 1"}}]"#;
        let tasks = parse_tasks(body, "gw").unwrap();
        assert_eq!(tasks[0].addr, Some("10.213.4.7".parse().unwrap()));
        assert_eq!(tasks[0].state, "running");
        assert_eq!(tasks[0].node, "n1");
        assert_eq!(tasks[1].addr, None);
        assert_eq!(tasks[1].message, "exit 1");
        assert!(parse_tasks(b"{", "gw").is_err());
    }

    #[test]
    fn filters_are_percent_encoded() {
        assert_eq!(
            percent(r#"{"a":["b c"]}"#),
            "%7B%22a%22%3A%5B%22b%20c%22%5D%7D"
        );
    }
}
