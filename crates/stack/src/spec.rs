//! The normalized stack: the plain data [`crate::check`] produces and the deployer turns into
//! containers (services, their mounts, files, secrets, logging, healthchecks, dependencies),
//! with nothing left for the deployer to interpret.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::ResourceLimits;

/// The normalized stack: everything the deployer needs, nothing it must interpret.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stack {
    /// In start order: every service comes after the services it depends on.
    pub services: Vec<ServiceSpec>,
    /// Named volumes (without the `clubhost-<slug>-` prefix the deployer adds): the file's own,
    /// under safe names, then those anonymous volumes became.
    pub volumes: Vec<String>,
    /// Internal networks the file declares; each becomes an internal Docker network of the
    /// project (`clubhost-<slug>_<name>`). Services naming none are on the project network.
    pub networks: Vec<String>,
    /// The one service visitors reach through the club's proxy, and on which port.
    pub expose: Expose,
}

/// The service the club's proxy sends visitors to: named by `x-clubhost.expose` or inferred from
/// the file. The only service on the club's gateway network.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Expose {
    /// Name of the exposed service; always one of [`Stack::services`].
    pub service: String,
    /// Container port the proxy forwards to: `x-clubhost.port`, else the service's `ports:` or
    /// `expose:`, else 80 (with a warning).
    pub port: u16,
}

/// One service as the deployer creates its container: Compose keys checked, variables
/// interpolated, limits applied.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceSpec {
    /// The service's key under `services:`; part of its container's name.
    pub name: String,
    /// Image reference after interpolation, from an allowed registry.
    pub image: String,
    /// Replaces the image's `CMD` when set; `None` keeps the image's.
    pub command: Option<Vec<String>>,
    /// Replaces the image's `ENTRYPOINT` when set; `None` keeps the image's.
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=value` pairs, in file order.
    pub environment: Vec<String>,
    /// Named volumes of the stack mounted into the container, `volumes_from` ones included.
    pub mounts: Vec<VolumeMount>,
    /// Services that must reach a condition before this one starts.
    pub depends_on: Vec<Dependency>,
    /// `None` keeps whatever healthcheck the image defines.
    pub healthcheck: Option<Healthcheck>,
    /// Compose's `restart:`; `no` when the file says nothing.
    pub restart: RestartPolicy,
    /// `user:` (`1000`, `1000:1000`, `www-data`); `None` runs as the image's user.
    pub user: Option<String>,
    /// `working_dir:`; `None` keeps the image's.
    pub working_dir: Option<String>,
    /// The member's labels; the deployer adds its `clubhost.*` labels over them.
    pub labels: BTreeMap<String, String>,
    /// Ports the service says it listens on (`expose:`); the first one is the default proxy port.
    pub(crate) expose: Vec<u16>,
    /// The container side of the file's `ports:`, in file order. Never published on the server:
    /// kept as evidence of the web port and for showing.
    pub ports: Vec<ContainerPort>,
    /// `volumes_from` (services of this project only). Already honoured: the shared volumes are
    /// in `mounts` and the services in `depends_on`; kept for showing.
    pub(crate) volumes_from: Vec<VolumesFrom>,
    /// tmpfs mounts: container path → mount options (`size=64m`), possibly empty.
    pub tmpfs: BTreeMap<String, String>,
    /// Whether the container's root filesystem is mounted read-only.
    pub read_only: bool,
    /// Signal that stops the container (`SIGINT`); `None` is the image's, else `SIGTERM`.
    pub stop_signal: Option<String>,
    /// How long a stop waits after the signal before killing; the deployer sends whole seconds.
    /// `None` is Docker's default (10 s).
    pub stop_grace_period: Option<Duration>,
    /// Capabilities the member drops (dropping is always allowed; adding never is).
    pub cap_drop: Vec<String>,
    /// Internal networks the file puts this service on (`default` is the project network).
    pub networks: Vec<String>,
    /// Whether the file puts it on an `external` network: the club's gateway.
    pub gateway: bool,
    /// Memory, CPU and process limits after the club's defaults and caps.
    pub limits: ResourceLimits,
    /// `hostname:` inside the project network.
    pub hostname: Option<String>,
    /// `domainname:` inside the project network.
    pub domainname: Option<String>,
    /// `logging:` (json-file or local, sizes capped by `[limits]`); `None`: the deployer's
    /// default.
    pub logging: Option<Logging>,
    /// `platform:` (`linux/arm64`): the image variant to pull and run; the deployer reports a
    /// clear error when the engine cannot have it.
    pub platform: Option<String>,
    /// `shm_size:` in bytes, capped by `limits.max_shm_size`.
    pub shm_size: Option<i64>,
    /// `ulimits:` (nofile, nproc, memlock only), capped by `[limits]`.
    pub ulimits: Vec<Ulimit>,
    /// `pull_policy:`; `None`: pull only what the engine lacks (and nothing can be pulled here).
    pub pull_policy: Option<PullPolicy>,
    /// `profiles:` the service belongs to; only services whose profile is enabled (project
    /// variable `COMPOSE_PROFILES`) or that have none are in the stack.
    pub(crate) profiles: Vec<String>,
    /// `init:`; `Some(false)` asks for no init process in the container.
    pub init: Option<bool>,
    /// `build:`: the image is built from the project's files (and tagged by the deployer, never
    /// with a name the member chose).
    pub build: Option<Build>,
    /// Relative binds: the project's files copied into the container (never a host path).
    pub files: Vec<FileMount>,
    /// `secrets:` and `configs:`: files only this service's container sees.
    pub secrets: Vec<SecretFile>,
    /// `env_file:` entries, read by [`load_with_files`] into `environment`.
    #[serde(skip)]
    pub(crate) env_files: Vec<EnvFileRef>,
    /// The service's `x-clubhost: { database: … }`: a database the backups dump although its
    /// image's name does not say so; `None`: recognised by the image's name, if at all.
    pub database: Option<Database>,
    /// `deploy.replicas`, capped by `limits.max_replicas` (default 1). Swarm mode runs this many
    /// tasks; the engine runs one container whatever it says.
    #[serde(skip_serializing_if = "is_one")]
    pub replicas: u32,
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// A database engine a service's `x-clubhost.database` names.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Database {
    /// MySQL or MariaDB (`mysql`, `mariadb`).
    Mysql,
    /// PostgreSQL (`postgres`).
    Postgres,
}

/// How a service's image is built from the project's files (`build:`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Build {
    /// The context folder, relative to the stack file's folder ([`normalize`]d: `.` is the
    /// folder itself); a context never reaches outside the project's files.
    pub context: String,
    /// The Dockerfile, relative to the context (`Dockerfile` unless named), inside it.
    pub dockerfile: String,
    /// `args:` (build arguments), after interpolation.
    pub args: BTreeMap<String, String>,
    /// `target:`: the stage of a multi-stage Dockerfile to build.
    pub target: Option<String>,
}

/// One of the project's files or folders delivered into a service's container (a relative bind
/// such as `./conf/site.conf:/etc/site.conf:ro`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileMount {
    /// Relative to the stack file's folder, [`normalize`]d.
    pub source: String,
    /// Absolute path inside the container.
    pub target: String,
    /// `:ro` / `read_only: true`.
    pub read_only: bool,
    /// Whether the source is a folder (known once [`load_with_files`] looked at it).
    pub folder: bool,
    /// A writable folder becomes this stack volume (one of [`Stack::volumes`]), seeded with the
    /// files when it is first created; `None`: copied into each new container.
    pub volume: Option<String>,
}

/// A secret or config delivered as a file into one service's container.
#[derive(Clone, Serialize, PartialEq, Eq)]
pub struct SecretFile {
    /// Its name under the top-level `secrets:`/`configs:`.
    pub name: String,
    /// Whether it is a secret (at `/run/secrets/<name>` by default) or a config.
    pub kind: SecretKind,
    /// Absolute path inside the container.
    pub target: String,
    /// File mode (0o400 unless the file asks for another).
    pub mode: u32,
    /// Owner; root when `None`.
    pub uid: Option<u32>,
    /// Group; root when `None`.
    pub gid: Option<u32>,
    /// Where the value comes from.
    pub source: SecretSource,
    /// The value: filled from a project variable by the check, from a file by
    /// [`load_with_files`]. Never serialized or printed.
    #[serde(skip)]
    pub content: Vec<u8>,
}

impl std::fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretFile")
            .field("name", &self.name)
            .field("target", &self.target)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("source", &self.source)
            .field("content", &format_args!("({} bytes)", self.content.len()))
            .finish()
    }
}

/// Top-level `secrets:` or `configs:`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// `secrets:`.
    Secret,
    /// `configs:`.
    Config,
}

/// Where a secret's or config's value comes from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// `file:`, relative to the stack file's folder ([`normalize`]d).
    File(String),
    /// `environment:`: a project variable (secret or not) of that name.
    Variable(String),
}

/// One `env_file:` entry, resolved by [`load_with_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvFileRef {
    pub(crate) file: String,
    pub(crate) required: bool,
    pub(crate) line: u64,
    pub(crate) column: u64,
    pub(crate) path: String,
}

/// A service's logs, kept on this server.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Logging {
    /// Where the engine keeps them; other drivers ship logs off the server and are refused.
    pub driver: LogDriver,
    /// Docker's `max-size` per file, capped by `[limits] max_log_size`.
    pub max_size_bytes: i64,
    /// Docker's `max-file`, capped by `[limits] max_log_files`.
    pub max_files: u32,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
/// The log drivers that keep logs on this server, where `clubhost` can show them.
pub enum LogDriver {
    /// Docker's default `json-file`.
    JsonFile,
    /// Docker's compressed `local` driver.
    Local,
}

/// One `ulimits:` entry; `name` is `nofile`, `nproc` or `memlock` (bytes).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Ulimit {
    /// `nofile`, `nproc` or `memlock`: the only ones a member may set.
    pub name: String,
    /// The soft limit, capped by the matching `[limits] max_*` key.
    pub soft: i64,
    /// The hard limit, capped likewise; never below `soft`.
    pub hard: i64,
}

/// When the deployer pulls the image.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PullPolicy {
    /// Pull on every deploy.
    Always,
    /// Pull only when the engine does not have the image.
    Missing,
    /// Never pull; the deploy fails when the image is absent.
    Never,
}

/// One container port a file's `ports:` named (the host side is dropped).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ContainerPort {
    /// The container side of the `ports:` entry.
    pub port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// Whether the file publishes the same port for UDP too.
    pub(crate) also_udp: bool,
}

/// One `depends_on:` entry: a service of this stack, and what it must reach first.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dependency {
    /// Name of the service depended on; always one of [`Stack::services`].
    pub service: String,
    /// What that service must reach before the dependent starts.
    pub condition: Condition,
}

/// What a dependency must reach before the dependent starts (Compose's `depends_on.condition`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Started, whether or not it is ready (Compose's default).
    ServiceStarted,
    /// Reported healthy by its healthcheck.
    ServiceHealthy,
    /// Run to completion with exit code 0: a one-shot service (see [`Stack::is_one_shot`]).
    ServiceCompletedSuccessfully,
}

/// One named volume mounted into a service.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VolumeMount {
    /// The stack's volume name (one of [`Stack::volumes`]), without the `clubhost-<slug>-` prefix.
    pub volume: String,
    /// Absolute path inside the container.
    pub target: String,
    /// Whether the container may only read it (`:ro`).
    pub read_only: bool,
    /// `:nocopy` / `volume: { nocopy: true }`: do not copy the image's files into a new volume.
    pub nocopy: bool,
}

/// One `volumes_from` entry: another service of the project whose volumes this one mounts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct VolumesFrom {
    pub(crate) service: String,
    pub(crate) read_only: bool,
}

/// A service's healthcheck: Compose's `healthcheck:` with its defaults filled in.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Healthcheck {
    /// Docker's form: `["CMD", ...]` or `["CMD-SHELL", "..."]`; `["NONE"]` turns off the
    /// image's healthcheck (`disable: true`); empty keeps the image's test with these timings.
    pub test: Vec<String>,
    /// Time between probes; 30 s when the file says nothing.
    pub interval: Duration,
    /// How long one probe may take before it counts as failed.
    pub timeout: Duration,
    /// Failed probes in a row before the container is unhealthy; 3 by default.
    pub retries: u32,
    /// Grace time after start during which failed probes do not count; zero by default.
    pub start_period: Duration,
    /// Docker's `StartInterval` (API 1.44+): the probe interval during `start_period`.
    pub start_interval: Option<Duration>,
}

/// Compose's `restart:`: when Docker restarts the container after it exits.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never (the default).
    No,
    /// Always, even one stopped on purpose once the engine restarts.
    Always,
    /// Like `Always`, except after it was stopped on purpose.
    UnlessStopped,
    /// After a non-zero exit, at most this many times; 0 means no limit (`on-failure` alone).
    OnFailure(u32),
}

impl Stack {
    /// The service named `name`, if the stack has one.
    pub fn service(&self, name: &str) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| s.name == name)
    }

    /// A copy for showing: every secret variable value masked wherever it was interpolated.
    /// Only tests show a stack this way; the faces use [`Report::redacted`].
    #[cfg(test)]
    pub(crate) fn redacted(&self, vars: &crate::Vars) -> Stack {
        self.masked_with(&|t: &str| vars.redact(t))
    }

    /// A copy with `mask` applied to every field a variable can reach.
    pub(crate) fn masked_with(&self, mask: &dyn Fn(&str) -> String) -> Stack {
        let r = |s: &String| mask(s);
        let rl = |l: &Vec<String>| l.iter().map(r).collect::<Vec<_>>();
        let mut out = self.clone();
        for s in &mut out.services {
            s.image = r(&s.image);
            s.environment = rl(&s.environment);
            s.command = s.command.as_ref().map(rl);
            s.entrypoint = s.entrypoint.as_ref().map(rl);
            s.user = s.user.as_ref().map(r);
            s.working_dir = s.working_dir.as_ref().map(r);
            for v in s.labels.values_mut() {
                *v = r(v);
            }
            if let Some(h) = &mut s.healthcheck {
                h.test = rl(&h.test);
            }
            if let Some(b) = &mut s.build {
                for v in b.args.values_mut() {
                    *v = r(v);
                }
            }
        }
        out
    }

    /// Whether some service waits for `name` to exit successfully: such a one-shot service is
    /// done, not down, when it is no longer running.
    pub fn is_one_shot(&self, name: &str) -> bool {
        self.services.iter().any(|s| {
            s.depends_on.iter().any(|d| {
                d.service == name && d.condition == Condition::ServiceCompletedSuccessfully
            })
        })
    }
}
