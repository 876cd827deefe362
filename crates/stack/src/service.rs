//! One service: every Compose key clubhost supports, read into a [`ServiceSpec`]; the keys the
//! policy refuses are reported by [`super::policy`], every other key is unsupported.

use std::collections::BTreeMap;

use super::checker::{Checker, join};
use super::checker::{check_name, duration};
use super::context::Context;
use super::limits::{ResourceLimits, parse_bytes};
use super::policy;
use super::yaml::{Node, Value};
use super::{RestartPolicy, SecretKind, ServiceSpec, ViolationKind};

const SUPPORTED: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "environment",
    "volumes",
    "networks",
    "depends_on",
    "healthcheck",
    "restart",
    "user",
    "working_dir",
    "labels",
    "expose",
    "tmpfs",
    "read_only",
    "stop_grace_period",
    "stop_signal",
    "init",
    "deploy",
    "mem_limit",
    "cpus",
    "pids_limit",
    "container_name",
    "cap_drop",
    "security_opt",
    "network_mode",
    "pid",
    "ipc",
    "uts",
    "userns_mode",
    "tty",
    "stdin_open",
    "links",
    "ports",
    "volumes_from",
    "hostname",
    "domainname",
    "logging",
    "platform",
    "shm_size",
    "ulimits",
    "pull_policy",
    "profiles",
    "build",
    "env_file",
    "secrets",
    "x-clubhost",
    "configs",
    // Resolved before the service is read (`super::select`); left only when it failed.
    "extends",
];

/// Requests gathered from `mem_limit`/`cpus`/`pids_limit` and `deploy.resources.limits`.
#[derive(Default)]
struct Requests {
    memory: Option<(i64, Node)>,
    cpus: Option<(f64, Node)>,
    pids: Option<(i64, Node)>,
    replicas: Option<(i64, Node)>,
}

pub(crate) fn service(
    c: &mut Checker,
    ctx: &Context,
    name: &str,
    key: &Node,
    node: &Node,
) -> Option<ServiceSpec> {
    let path = format!("services.{name}");
    let before = c.violations.len();
    check_name(c, key, &path, name);
    let mut spec = ServiceSpec {
        name: name.to_string(),
        image: String::new(),
        command: None,
        entrypoint: None,
        environment: Vec::new(),
        mounts: Vec::new(),
        depends_on: Vec::new(),
        healthcheck: None,
        restart: RestartPolicy::No,
        user: None,
        working_dir: None,
        labels: BTreeMap::new(),
        expose: Vec::new(),
        ports: Vec::new(),
        volumes_from: Vec::new(),
        tmpfs: BTreeMap::new(),
        read_only: false,
        stop_signal: None,
        stop_grace_period: None,
        cap_drop: Vec::new(),
        networks: Vec::new(),
        gateway: false,
        limits: ResourceLimits {
            memory_bytes: 0,
            nano_cpus: 0,
            pids: 0,
        },
        hostname: None,
        domainname: None,
        logging: None,
        platform: None,
        shm_size: None,
        ulimits: Vec::new(),
        pull_policy: None,
        profiles: Vec::new(),
        init: None,
        build: None,
        files: Vec::new(),
        secrets: Vec::new(),
        env_files: Vec::new(),
        database: None,
        replicas: 1,
    };
    let mut req = Requests::default();
    let mut image_seen = false;
    let mut build = None;
    for (k, knode, v) in c.entries(node, &path, SUPPORTED, policy::service_key) {
        let p = join(&path, k);
        match k {
            "image" => {
                image_seen = true;
                if let Some(image) = c.nonempty(v, &p) {
                    if !c.limits.image_allowed(&image) {
                        c.fail(
                            v,
                            &p,
                            ViolationKind::Policy,
                            format!(
                                "images from {} are not allowed here; allowed registries: {}",
                                super::Limits::registry_of(&image),
                                c.limits.allowed_registries.join(", ")
                            ),
                        );
                    }
                    spec.image = image;
                }
            }
            "command" => spec.command = c.words(v, &p),
            "entrypoint" => spec.entrypoint = c.words(v, &p),
            "environment" => {
                spec.environment = c
                    .pairs(v, &p)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| match v {
                        Some(v) => format!("{k}={v}"),
                        None => k,
                    })
                    .collect()
            }
            "labels" => {
                for (lk, lv) in c.pairs(v, &p).unwrap_or_default() {
                    if lk.starts_with("clubhost.") {
                        c.fail(
                            v,
                            &p,
                            ViolationKind::Policy,
                            format!(
                                "label {lk:?}: labels starting with `clubhost.` are clubhost's own"
                            ),
                        );
                    }
                    spec.labels.insert(lk, lv.unwrap_or_default());
                }
            }
            "volumes" => super::mounts::volumes(c, ctx, v, &p, &mut spec),
            "networks" => networks(c, ctx, v, &p, &mut spec),
            "depends_on" => super::lifecycle::depends_on(c, ctx, name, v, &p, &mut spec),
            "healthcheck" => spec.healthcheck = super::lifecycle::healthcheck(c, v, &p),
            "restart" => {
                if let Some(r) = c.text(v, &p) {
                    spec.restart = super::lifecycle::restart(c, v, &p, &r);
                }
            }
            "user" => spec.user = c.nonempty(v, &p),
            "working_dir" => spec.working_dir = absolute(c, v, &p),
            "expose" => {
                for (i, item) in c.list(v, &p).unwrap_or_default().iter().enumerate() {
                    // `"3000"`, `3000/tcp`, and ranges (first port used).
                    let first = item.split(['/', '-']).next().unwrap_or("");
                    match first.trim().parse::<u16>() {
                        Ok(port) if port > 0 => spec.expose.push(port),
                        _ => c.invalid(v, &format!("{p}[{i}]"), format!("{item:?} is not a port")),
                    }
                }
            }
            "tmpfs" => {
                let items = match &v.value {
                    Value::Seq(_) => c.list(v, &p).unwrap_or_default(),
                    _ => c.text(v, &p).into_iter().collect(),
                };
                for item in items {
                    let (target, opts) = item.split_once(':').unwrap_or((&item, ""));
                    if !target.starts_with('/') {
                        c.invalid(
                            v,
                            &p,
                            format!("{target:?}: the container path must be absolute"),
                        );
                    }
                    spec.tmpfs.insert(target.to_string(), opts.to_string());
                }
            }
            "read_only" => spec.read_only = c.boolean(v, &p).unwrap_or(false),
            "stop_signal" => spec.stop_signal = c.nonempty(v, &p),
            "stop_grace_period" => spec.stop_grace_period = duration(c, v, &p),
            "container_name" => c.warn(
                knode,
                &p,
                "ignored: clubhost names containers itself (clubhost-<project>-<service>-<n>)",
            ),
            "tty" | "stdin_open" => c.warn(knode, &p, "ignored: projects run without a terminal"),
            "links" => c.warn(
                knode,
                &p,
                "ignored: services of one project reach each other by service name",
            ),
            "volumes_from" => super::volumes::volumes_from(c, ctx.services, name, v, &p, &mut spec),
            "extends" => {}
            // After the loop: the message depends on whether `image:` is given too.
            "build" => build = Some((knode, v, p)),
            "env_file" => spec.env_files = super::files::env_file(c, knode, v, &p),
            "secrets" => super::files::uses(c, SecretKind::Secret, ctx.secrets, v, &p, &mut spec),
            "configs" => super::files::uses(c, SecretKind::Config, ctx.configs, v, &p, &mut spec),
            "ports" => super::ports::ports(c, knode, v, &p, &mut spec),
            "cap_drop" => spec.cap_drop = c.list(v, &p).unwrap_or_default(),
            // Accepted only in their harmless forms; the dangerous ones never get here.
            "security_opt" => {}
            "network_mode" | "pid" | "ipc" | "uts" | "userns_mode" => {
                let value = c.text(v, &p).unwrap_or_default();
                let harmless = match k {
                    "network_mode" => value == "bridge" || value == "default",
                    _ => false,
                };
                if !harmless {
                    c.fail(
                        knode,
                        &p,
                        ViolationKind::Unsupported,
                        format!("{k}: {value:?} is not supported; remove it"),
                    );
                }
            }
            "mem_limit" => req.memory = memory(c, v, &p).map(|m| (m, v.clone())),
            "cpus" => req.cpus = cpus(c, v, &p).map(|n| (n, v.clone())),
            "pids_limit" => req.pids = c.integer(v, &p).map(|n| (n, v.clone())),
            "deploy" => deploy(c, v, &p, &mut req),
            // Every other key in SUPPORTED is read there.
            _ => {
                super::extras::read(c, k, knode, v, &p, &mut spec);
            }
        }
    }
    // A service with `build:` or an unresolved `extends` is reported for that; "image is
    // required" would only confuse.
    let has_build = node.as_map().is_some_and(|m| {
        m.iter()
            .any(|(k, _)| matches!(k.as_str(), Some("build" | "extends")))
    });
    if let Some((knode, v, p)) = build {
        spec.build = super::files::build(c, knode, v, &p, &spec);
    }
    if !image_seen && !has_build {
        c.invalid(key, &path, "`image` is required");
    }
    spec.limits = limits(c, &req, &path);
    spec.replicas = replicas(c, &req, &path);
    (c.violations.len() == before).then_some(spec)
}

fn absolute(c: &mut Checker, v: &Node, p: &str) -> Option<String> {
    let t = c.nonempty(v, p)?;
    if !t.starts_with('/') {
        c.invalid(v, p, format!("{t:?} must be an absolute path"));
        return None;
    }
    Some(t)
}

fn memory(c: &mut Checker, v: &Node, p: &str) -> Option<i64> {
    let t = c.text(v, p)?;
    let m = parse_bytes(&t);
    if m.is_none() {
        c.invalid(v, p, format!("{t:?} is not a size like \"512m\" or \"1g\""));
    }
    m
}

fn cpus(c: &mut Checker, v: &Node, p: &str) -> Option<f64> {
    let t = c.text(v, p)?;
    match t.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Some(n),
        _ => {
            c.invalid(v, p, format!("{t:?} is not a number of CPUs like 0.5"));
            None
        }
    }
}

/// `deploy:` is read only for `resources.limits` (and `reservations`, which are ignored: limits
/// are what clubhost enforces).
fn deploy(c: &mut Checker, v: &Node, p: &str, req: &mut Requests) {
    for (k, _, v) in c.entries(v, p, &["resources", "replicas"], |_, _| None) {
        let p = join(p, k);
        if k == "replicas" {
            req.replicas = c.integer(v, &p).map(|n| (n, v.clone()));
            continue;
        }
        for (k, knode, v) in c.entries(v, &p, &["limits", "reservations"], |_, _| None) {
            let p = join(&p, k);
            if k == "reservations" {
                c.warn(
                    knode,
                    &p,
                    "ignored: clubhost enforces limits, not reservations",
                );
                continue;
            }
            for (k, _, v) in c.entries(v, &p, &["memory", "cpus", "pids"], |_, _| None) {
                let p = join(&p, k);
                match k {
                    "memory" => req.memory = memory(c, v, &p).map(|m| (m, v.clone())),
                    "cpus" => req.cpus = cpus(c, v, &p).map(|n| (n, v.clone())),
                    _ => req.pids = c.integer(v, &p).map(|n| (n, v.clone())),
                }
            }
        }
    }
}

/// `deploy.replicas`, at least 1 and at most `limits.max_replicas` (a warning says when capped).
fn replicas(c: &mut Checker, req: &Requests, path: &str) -> u32 {
    let max = c.limits.max_replicas.max(1);
    match &req.replicas {
        None => 1,
        Some((n, node)) if *n < 1 => {
            c.invalid(node, path, "deploy.replicas must be at least 1");
            1
        }
        Some((n, node)) if *n > i64::from(max) => {
            c.warn(
                node,
                path,
                format!("replicas capped at {max} (limits.max_replicas)"),
            );
            max
        }
        Some((n, _)) => *n as u32,
    }
}

/// The member's requests, defaulted and capped by the club's limits.
fn limits(c: &mut Checker, req: &Requests, path: &str) -> ResourceLimits {
    let l = c.limits.clone();
    let max_mem = l.max_memory_bytes();
    let memory_bytes = match &req.memory {
        Some((m, node)) if *m > max_mem => {
            c.warn(
                node,
                path,
                format!("memory capped at {} (limits.max_memory)", l.max_memory),
            );
            max_mem
        }
        Some((m, _)) => *m,
        None => l.default_memory_bytes(),
    };
    let cpus = match &req.cpus {
        Some((n, node)) if *n > l.max_cpus => {
            c.warn(
                node,
                path,
                format!("cpus capped at {} (limits.max_cpus)", l.max_cpus),
            );
            l.max_cpus
        }
        Some((n, _)) => *n,
        None => l.default_cpus,
    };
    let pids = match &req.pids {
        // Compose's -1/0 mean "unlimited", which the club does not give.
        Some((n, node)) if *n > l.max_pids || *n <= 0 => {
            c.warn(
                node,
                path,
                format!("pids capped at {} (limits.max_pids)", l.max_pids),
            );
            l.max_pids
        }
        Some((n, _)) => *n,
        None => l.default_pids,
    };
    ResourceLimits {
        memory_bytes,
        nano_cpus: (cpus * 1e9) as i64,
        pids,
    }
}
/// `networks: [a, b]` or `networks: { a: {aliases: [...]}, b: }`.
fn networks(c: &mut Checker, ctx: &Context, v: &Node, p: &str, spec: &mut ServiceSpec) {
    let names: Vec<(String, &Node)> = match &v.value {
        Value::Seq(items) => items
            .iter()
            .filter_map(|n| n.scalar_text().map(|t| (t, n)))
            .collect(),
        Value::Map(entries) => {
            let mut out = Vec::new();
            for (k, val) in entries {
                let name = k.scalar_text().unwrap_or_default();
                // Aliases are accepted; every service is reachable by its name anyway. Fixed
                // addresses and priorities are clubhost's to choose.
                let np = join(p, &name);
                let fixed = ["ipv4_address", "ipv6_address", "link_local_ips", "priority"];
                let mut keys = vec!["aliases"];
                keys.extend(fixed);
                for (k, knode, _) in c.entries(val, &np, &keys, |_, _| None) {
                    if k != "aliases" {
                        c.warn(
                            knode,
                            &join(&np, k),
                            "ignored: clubhost assigns the addresses on a project's networks",
                        );
                    }
                }
                out.push((name, k));
            }
            out
        }
        _ => {
            c.invalid(
                v,
                p,
                format!("expected a list or a map, found {}", v.kind()),
            );
            return;
        }
    };
    for (name, at) in names {
        match ctx.networks.iter().find(|(n, _)| *n == name) {
            Some((_, true)) => spec.gateway = true,
            Some((_, false)) => spec.networks.push(name),
            None if name == "default" => spec.networks.push(name),
            None => c.invalid(
                at,
                p,
                format!("network {name:?} is not declared under the top-level `networks:`"),
            ),
        }
    }
}
