//! Stacks: a project's services, read from a Compose file as members write it, checked against
//! the club's default-deny policy and limits, and normalized into plain data the deployer turns
//! into containers.
//!
//! The pipeline: [`yaml`] (a tree whose nodes keep line and column) → [`check`] walks it with the
//! project's variables ([`interpolate`]) and [`Limits`], refusing what the [`policy`] forbids and
//! every key clubhost does not support → a [`Report`]: the normalized [`Stack`] when nothing is
//! wrong, and every violation with its line, column and reason.
//!
//! Architecture invariant: this module never talks to Docker and never touches the registry; it is
//! a pure function from text (plus variables and limits) to a [`Report`].

mod checker;
mod extras;
mod files;
mod interpolate;
mod lifecycle;
mod limits;
mod mounts;
mod policy;
mod ports;
mod select;
mod service;
pub mod templates;
mod top;
mod volumes;
mod words;
mod yaml;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

pub use interpolate::{
    Interpolated, MASK, MIN_MASKED, Var, Vars, interpolate, mask, valid_name as valid_var_name,
};
pub use limits::{Limits, ResourceLimits, parse_bytes};
pub use words::parse_duration;

/// What is wrong with one place in a stack file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// 1-based; 0 when the place is not in the file (e.g. a missing `services:`).
    pub line: u64,
    pub column: u64,
    /// Dotted path to the key: `services.web.privileged`.
    pub path: String,
    pub kind: ViolationKind,
    /// What is wrong, why, and what to do instead.
    pub message: String,
}

/// Why a file is refused: the safety policy, a key clubhost does not support, or a bad value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViolationKind {
    /// Not YAML.
    Syntax,
    /// Valid Compose that the club's safety policy refuses.
    Policy,
    /// A Compose key clubhost does not implement.
    Unsupported,
    /// A value that is wrong (missing image, undeclared volume, bad duration…).
    Invalid,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}, column {}: ", self.line, self.column)?;
        }
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The checker's verdict on one file.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The normalized stack; `None` when there is any violation.
    pub stack: Option<Stack>,
    /// Everything that keeps the file from deploying, in file order.
    pub violations: Vec<Violation>,
    /// Things that deploy but differently from what the file says (ignored `container_name`,
    /// capped limits, unset variables).
    pub warnings: Vec<Violation>,
    /// What only the project's own files can provide (`build:`, relative bind mounts,
    /// `env_file`, secrets/configs from `file:`), each message starting "needs the project's
    /// files". Not violations: the file is judged on everything else. Until projects can bring
    /// their files, [`Report::deployable`] is false and [`load`] refuses the stack with these.
    pub needs_files: Vec<Violation>,
    /// Secret values the file interpolated: what [`Report::redacted`] masks. Never serialized.
    #[serde(skip)]
    secrets: SecretValues,
}

/// Secret values a check interpolated. Its `Debug` shows only how many, so a report printed
/// with `{:?}` (a log line, a failed test) never carries them.
#[derive(Clone, Default)]
pub(crate) struct SecretValues(pub(crate) Vec<String>);

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} secret value(s)", self.0.len())
    }
}

impl Report {
    /// Whether the file passed the check (it may still need the project's files).
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty() && self.stack.is_some()
    }

    /// Whether the stack can be deployed as it is: checked, and needing no project files.
    pub fn deployable(&self) -> bool {
        self.is_ok() && self.needs_files.is_empty()
    }

    /// The report as submit and deploy must see it: needing the project's files is a refusal
    /// (with those reasons) until projects can bring their files.
    pub fn requiring_files(mut self) -> Report {
        if !self.needs_files.is_empty() {
            self.violations.extend(self.needs_files.iter().cloned());
            self.violations.sort_by_key(|v| (v.line, v.column));
            self.stack = None;
        }
        self
    }

    /// The report as it may be shown: the secret values the file interpolated masked in the
    /// stack (messages are masked already). `vars` is kept for callers; the values come from the
    /// check itself, so a secret the file never uses cannot star out the file's own text.
    pub fn redacted(&self, _vars: &Vars) -> Report {
        let secrets: Vec<&str> = self.secrets.0.iter().map(String::as_str).collect();
        Report {
            stack: self
                .stack
                .as_ref()
                .map(|s| s.masked_with(&|t: &str| interpolate::mask(t, &secrets))),
            violations: self.violations.clone(),
            warnings: self.warnings.clone(),
            needs_files: self.needs_files.clone(),
            secrets: SecretValues::default(),
        }
    }
}

/// A stack file that cannot be deployed: every violation, in file order.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct StackError {
    pub violations: Vec<Violation>,
}

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
    pub expose: Expose,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Expose {
    pub service: String,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceSpec {
    pub name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=value` pairs, in file order.
    pub environment: Vec<String>,
    pub mounts: Vec<VolumeMount>,
    pub depends_on: Vec<Dependency>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: RestartPolicy,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    /// The member's labels; the deployer adds its `clubhost.*` labels over them.
    pub labels: BTreeMap<String, String>,
    /// Ports the service says it listens on (`expose:`); the first one is the default proxy port.
    pub expose: Vec<u16>,
    /// The container side of the file's `ports:`, in file order. Never published on the server:
    /// kept as evidence of the web port and for showing.
    pub ports: Vec<ContainerPort>,
    /// `volumes_from` (services of this project only). Already honoured: the shared volumes are
    /// in `mounts` and the services in `depends_on`; kept for showing.
    pub volumes_from: Vec<VolumesFrom>,
    /// tmpfs mounts: container path → mount options (`size=64m`), possibly empty.
    pub tmpfs: BTreeMap<String, String>,
    pub read_only: bool,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<Duration>,
    /// Capabilities the member drops (dropping is always allowed; adding never is).
    pub cap_drop: Vec<String>,
    /// Internal networks the file puts this service on (`default` is the project network).
    pub networks: Vec<String>,
    /// Whether the file puts it on an `external` network: the club's gateway.
    pub gateway: bool,
    pub limits: ResourceLimits,
    /// `hostname:` / `domainname:` inside the project network.
    pub hostname: Option<String>,
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
    pub pull_policy: Option<PullPolicy>,
    /// `profiles:` the service belongs to; only services whose profile is enabled (project
    /// variable `COMPOSE_PROFILES`) or that have none are in the stack.
    pub profiles: Vec<String>,
    /// `init:`; `Some(false)` asks for no init process in the container.
    pub init: Option<bool>,
}

/// A service's logs, kept on this server.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Logging {
    pub driver: LogDriver,
    /// Docker's `max-size` per file.
    pub max_size_bytes: i64,
    /// Docker's `max-file`.
    pub max_files: u32,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    JsonFile,
    Local,
}

/// One `ulimits:` entry; `name` is `nofile`, `nproc` or `memlock` (bytes).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
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
    pub port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// Whether the file publishes the same port for UDP too.
    pub also_udp: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dependency {
    pub service: String,
    pub condition: Condition,
}

/// What a dependency must reach before the dependent starts (Compose's `depends_on.condition`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VolumeMount {
    pub volume: String,
    pub target: String,
    pub read_only: bool,
    /// `:nocopy` / `volume: { nocopy: true }`: do not copy the image's files into a new volume.
    pub nocopy: bool,
}

/// One `volumes_from` entry: another service of the project whose volumes this one mounts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VolumesFrom {
    pub service: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Healthcheck {
    /// Docker's form: `["CMD", ...]` or `["CMD-SHELL", "..."]`; `["NONE"]` turns off the
    /// image's healthcheck (`disable: true`); empty keeps the image's test with these timings.
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
    /// Docker's `StartInterval` (API 1.44+): the probe interval during `start_period`.
    pub start_interval: Option<Duration>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    No,
    Always,
    UnlessStopped,
    OnFailure(u32),
}

impl Stack {
    pub fn service(&self, name: &str) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| s.name == name)
    }

    /// A copy for showing (portal, CLI, logs): every secret variable value masked wherever it was
    /// interpolated (environment, command, entrypoint, labels, image, user, working dir,
    /// healthcheck). Deploy the original, show this one.
    pub fn redacted(&self, vars: &Vars) -> Stack {
        self.masked_with(&|t: &str| vars.redact(t))
    }

    /// A copy with `mask` applied to every field a variable can reach.
    fn masked_with(&self, mask: &dyn Fn(&str) -> String) -> Stack {
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

/// Checks a stack file with the project's variables against the policy and limits. The one
/// checker behind `clubhost stack check`, the portal, submit and approve.
pub fn check(source: &str, vars: &Vars, limits: &Limits) -> Report {
    checker::run(source, vars, limits)
}

/// Checks and normalizes for submit and deploy; every violation becomes part of the error, and so
/// does every need for the project's files (see [`Report::requiring_files`]).
pub fn load(source: &str, vars: &Vars, limits: &Limits) -> Result<Stack, StackError> {
    let report = check(source, vars, limits).requiring_files();
    match report.stack {
        Some(stack) if report.violations.is_empty() => Ok(stack),
        _ => Err(StackError {
            violations: report.violations,
        }),
    }
}

/// Parses and normalizes a stack file with no variables and the default limits.
pub fn parse(source: &str) -> Result<Stack, StackError> {
    load(source, &Vars::new(), &Limits::default())
}

#[cfg(test)]
mod accept_tests;
#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod tests;
