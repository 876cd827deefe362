//! One container as clubhost wants it ([`ContainerPlan`]) and its creation: the plan becomes
//! Docker's create body here, with the settings every container gets whatever the stack says
//! (clubhost's labels over the member's, `no-new-privileges`, memory, CPU and pids limits).
//!
//! Settings newer than the API version the engine was negotiated down to are left out rather
//! than sent: Docker 20.10 (API 1.41) would reject or ignore them.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, HostConfigLogConfig, Mount,
    MountType, MountVolumeOptions, NetworkConnectRequest, NetworkingConfig, ResourcesUlimits,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use clubhost_stack::{Healthcheck, LogDriver, Logging, Ulimit};

use super::{Engine, LABEL_INSTANCE, LABEL_MANAGED, Result, api};

/// The first API version with `HealthConfig.StartInterval` (Docker 25).
const START_INTERVAL_API: (usize, usize) = (1, 44);

/// One container as clubhost wants it created.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerPlan {
    /// Container name, unique on the engine: `clubhost-<slug>-<service>-<deployment id>`.
    pub name: String,
    /// Image reference as the stack names it; [`Engine::ensure_image`] makes it present first.
    pub image: String,
    /// `platform:` (`linux/arm64`): the image variant the container runs.
    pub platform: Option<String>,
    /// Replaces the image's `CMD`; `None` keeps the image's.
    pub cmd: Option<Vec<String>>,
    /// Replaces the image's `ENTRYPOINT`; `None` keeps the image's.
    pub entrypoint: Option<Vec<String>>,
    /// Environment as `KEY=value` strings.
    pub env: Vec<String>,
    /// Labels to set; `clubhost.managed` and `clubhost.instance` are always ours and any the stack
    /// gives for them are ignored.
    pub labels: HashMap<String, String>,
    /// (volume name, target, read only)
    pub volumes: Vec<PlannedMount>,
    /// The stack's healthcheck; `None` keeps the image's own, if any.
    pub healthcheck: Option<Healthcheck>,
    /// When Docker restarts the container after it exits.
    pub restart: clubhost_stack::RestartPolicy,
    /// The network the container is created on, with its DNS aliases there.
    pub network: String,
    /// DNS names the container answers to on `network` and `project_networks` (the service name).
    pub aliases: Vec<String>,
    /// Further networks to join before start (API 1.41 creates with one network only).
    pub extra_networks: Vec<String>,
    /// Further networks of the project itself, joined with the same DNS aliases as `network`
    /// (the gateway, in `extra_networks`, gets none: other projects are on it).
    pub project_networks: Vec<String>,
    /// Limits from the stack after the club's defaults and caps: every container has all three.
    pub memory_bytes: i64,
    /// CPU limit in billionths of a CPU (`1_000_000_000` is one CPU).
    pub nano_cpus: i64,
    /// Most processes and threads the container may run at once.
    pub pids_limit: i64,
    /// User (and group) to run as, `user[:group]` by name or id; `None` keeps the image's.
    pub user: Option<String>,
    /// Working directory; `None` keeps the image's.
    pub working_dir: Option<String>,
    /// tmpfs mounts: container path → mount options.
    pub tmpfs: HashMap<String, String>,
    /// Read-only root filesystem.
    pub read_only: bool,
    /// Signal sent to stop the container; `None` means Docker's default (the image's, else
    /// SIGTERM).
    pub stop_signal: Option<String>,
    /// Seconds Docker waits after the stop signal before killing.
    pub stop_timeout: Option<i64>,
    /// Capabilities dropped (adding is never allowed).
    pub cap_drop: Vec<String>,
    /// The container's own host name (`hostname:`); `None`: Docker's, the container id.
    pub hostname: Option<String>,
    /// The container's domain name (`domainname:`).
    pub domainname: Option<String>,
    /// `None`: the engine's default log driver and options.
    pub logging: Option<Logging>,
    /// Size of `/dev/shm` in bytes; `None`: Docker's 64 MiB.
    pub shm_size: Option<i64>,
    /// Process limits (nofile, nproc, memlock), already capped by `[limits]`.
    pub ulimits: Vec<Ulimit>,
    /// docker-init as PID 1 (so processes that ignore SIGTERM still stop at once).
    pub init: bool,
}

/// A project volume mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMount {
    /// The Docker volume's name.
    pub volume: String,
    /// Where it appears inside the container.
    pub target: String,
    /// Mounted read-only (`:ro`).
    pub read_only: bool,
    /// Do not copy the image's files at `target` into a new, empty volume.
    pub nocopy: bool,
}

impl Engine {
    /// Creates (not starts) a container and joins its extra networks; returns its id.
    pub async fn create_container(&self, plan: &ContainerPlan) -> Result<String> {
        let v = self.docker.client_version();
        let body = self.create_body(plan, (v.major_version, v.minor_version));
        let mut opts = CreateContainerOptionsBuilder::default().name(&plan.name);
        if let Some(p) = &plan.platform {
            opts = opts.platform(p);
        }
        let created = self
            .docker
            .create_container(Some(opts.build()), body)
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

    /// The labels a container or service made from `plan` carries. The member's labels first,
    /// clubhost's own over them: a stack cannot pose as another project or instance.
    pub(crate) fn plan_labels(&self, plan: &ContainerPlan) -> HashMap<String, String> {
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
        labels
    }

    /// Docker's create body for `plan`, for an engine speaking API version `api`.
    fn create_body(&self, plan: &ContainerPlan, api: (usize, usize)) -> ContainerCreateBody {
        let labels = self.plan_labels(plan);
        let host_config = HostConfig {
            memory: Some(plan.memory_bytes),
            // Memory+swap equal to memory: no swap beyond the limit.
            memory_swap: Some(plan.memory_bytes),
            nano_cpus: Some(plan.nano_cpus),
            pids_limit: Some(plan.pids_limit),
            readonly_rootfs: Some(plan.read_only),
            tmpfs: (!plan.tmpfs.is_empty()).then(|| plan.tmpfs.clone()),
            cap_drop: (!plan.cap_drop.is_empty()).then(|| plan.cap_drop.clone()),
            init: Some(plan.init),
            security_opt: Some(vec!["no-new-privileges:true".into()]),
            restart_policy: Some(restart_policy(plan.restart)),
            mounts: Some(plan.volumes.iter().map(mount).collect()),
            network_mode: Some(plan.network.clone()),
            log_config: plan.logging.as_ref().map(log_config),
            shm_size: plan.shm_size,
            ulimits: (!plan.ulimits.is_empty()).then(|| plan.ulimits.iter().map(ulimit).collect()),
            ..Default::default()
        };
        ContainerCreateBody {
            image: Some(plan.image.clone()),
            cmd: plan.cmd.clone(),
            entrypoint: plan.entrypoint.clone(),
            env: Some(plan.env.clone()),
            labels: Some(labels),
            healthcheck: plan.healthcheck.as_ref().map(|h| health_config(h, api)),
            user: plan.user.clone(),
            working_dir: plan.working_dir.clone(),
            stop_signal: plan.stop_signal.clone(),
            stop_timeout: plan.stop_timeout,
            hostname: plan.hostname.clone(),
            domainname: plan.domainname.clone(),
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
        }
    }
}

fn mount(m: &PlannedMount) -> Mount {
    Mount {
        typ: Some(MountType::VOLUME),
        source: Some(m.volume.clone()),
        target: Some(m.target.clone()),
        read_only: Some(m.read_only),
        volume_options: m.nocopy.then(|| MountVolumeOptions {
            no_copy: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn log_config(l: &Logging) -> HostConfigLogConfig {
    let driver = match l.driver {
        LogDriver::JsonFile => "json-file",
        LogDriver::Local => "local",
    };
    HostConfigLogConfig {
        typ: Some(driver.into()),
        config: Some(HashMap::from([
            ("max-size".to_string(), l.max_size_bytes.to_string()),
            ("max-file".to_string(), l.max_files.to_string()),
        ])),
    }
}

pub(crate) fn ulimit(u: &Ulimit) -> ResourcesUlimits {
    ResourcesUlimits {
        name: Some(u.name.clone()),
        soft: Some(u.soft),
        hard: Some(u.hard),
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

/// Docker's healthcheck for an engine speaking API version `api`. An empty test is left out, so
/// the image's own test runs with these timings; `start_interval` only reaches an engine that
/// knows it (API 1.44+), else the probe keeps `interval` during the start period too.
pub(crate) fn health_config(h: &Healthcheck, api: (usize, usize)) -> HealthConfig {
    let ns = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    HealthConfig {
        test: (!h.test.is_empty()).then(|| h.test.clone()),
        interval: Some(ns(h.interval)),
        timeout: Some(ns(h.timeout)),
        retries: Some(h.retries as i64),
        start_period: Some(ns(h.start_period)),
        start_interval: h
            .start_interval
            .filter(|_| api >= START_INTERVAL_API)
            .map(ns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(test: &[&str], start_interval: Option<u64>) -> Healthcheck {
        Healthcheck {
            test: test.iter().map(|s| s.to_string()).collect(),
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            retries: 3,
            start_period: Duration::from_secs(30),
            start_interval: start_interval.map(Duration::from_secs),
        }
    }

    #[test]
    fn start_interval_reaches_only_an_engine_that_knows_it() {
        let h = check(&["CMD", "true"], Some(1));
        assert_eq!(health_config(&h, (1, 41)).start_interval, None);
        assert_eq!(health_config(&h, (1, 43)).start_interval, None);
        assert_eq!(
            health_config(&h, (1, 44)).start_interval,
            Some(1_000_000_000)
        );
        assert_eq!(
            health_config(&h, (1, 45)).start_interval,
            Some(1_000_000_000)
        );
        let c = health_config(&h, (1, 41));
        assert_eq!(c.start_period, Some(30_000_000_000));
        assert_eq!(c.test, Some(vec!["CMD".to_string(), "true".to_string()]));
    }

    #[test]
    fn an_empty_test_keeps_the_images_and_none_disables_it() {
        assert_eq!(health_config(&check(&[], None), (1, 41)).test, None);
        assert_eq!(
            health_config(&check(&["NONE"], None), (1, 41)).test,
            Some(vec!["NONE".to_string()])
        );
    }

    #[test]
    fn logs_are_capped_in_the_drivers_own_options() {
        let c = log_config(&Logging {
            driver: LogDriver::Local,
            max_size_bytes: 1 << 20,
            max_files: 2,
        });
        assert_eq!(c.typ.as_deref(), Some("local"));
        let opts = c.config.unwrap();
        assert_eq!(opts["max-size"], "1048576");
        assert_eq!(opts["max-file"], "2");
    }

    #[test]
    fn nocopy_becomes_the_volume_option() {
        let m = |nocopy| PlannedMount {
            volume: "v".into(),
            target: "/d".into(),
            read_only: true,
            nocopy,
        };
        assert_eq!(
            mount(&m(true)).volume_options.and_then(|o| o.no_copy),
            Some(true)
        );
        assert_eq!(mount(&m(false)).volume_options, None);
        assert_eq!(mount(&m(true)).read_only, Some(true));
    }
}
