//! The top level of a Compose file: `services`, `volumes`, `networks`, `x-clubhost` (and
//! `version`/`name`, accepted and ignored); which service visitors reach and on which port; the
//! start order.

use std::collections::{HashMap, HashSet};

use super::checker::{Checker, join};
use super::service::{self, Context};
use super::yaml::{Node, Value};
use super::{Condition, ServiceSpec, Stack, ViolationKind};

pub fn stack(c: &mut Checker, root: &Node) -> Option<Stack> {
    if !matches!(root.value, Value::Map(_)) {
        c.invalid(
            root,
            "(file)",
            format!(
                "a stack file is a map with a `services:` key, found {}",
                root.kind()
            ),
        );
        return None;
    }
    let entries = c.entries(
        root,
        "",
        &[
            "version",
            "name",
            "services",
            "volumes",
            "networks",
            "x-clubhost",
            "secrets",
            "configs",
        ],
        |_, _| None,
    );
    let get = |key: &str| {
        entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|e| (e.1, e.2))
    };
    if let Some((k, _)) = get("name") {
        c.warn(k, "name", "ignored: clubhost names the project by its slug");
    }
    let volumes = super::volumes::declared(c, get("volumes").map(|e| e.1));
    let networks = networks(c, get("networks").map(|e| e.1));
    let secrets = super::files::declared(c, "secrets", get("secrets").map(|e| e.1));
    let configs = super::files::declared(c, "configs", get("configs").map(|e| e.1));

    let Some((services_key, services_node)) = get("services") else {
        c.invalid(
            root,
            "services",
            "a stack needs a `services:` map with at least one service",
        );
        return None;
    };
    let Some(svc_map) = services_node.as_map().filter(|m| !m.is_empty()) else {
        c.invalid(
            services_key,
            "services",
            "a stack needs at least one service",
        );
        return None;
    };
    if svc_map.len() > c.limits.max_services {
        c.fail(
            services_key,
            "services",
            ViolationKind::Policy,
            format!(
                "{} services; a stack may have at most {} (limits.max_services)",
                svc_map.len(),
                c.limits.max_services
            ),
        );
    }
    let names: Vec<String> = svc_map
        .iter()
        .filter_map(|(k, _)| k.as_str().map(str::to_string))
        .collect();
    let ctx = Context {
        services: &names,
        volumes: &volumes,
        networks: &networks,
        secrets: &secrets,
        configs: &configs,
    };
    let mut services = Vec::new();
    let mut key_of: HashMap<String, &Node> = HashMap::new();
    let defined = super::select::extended(c, svc_map);
    for ((k, _), v) in svc_map.iter().zip(&defined) {
        let Some(name) = k.as_str() else {
            c.invalid(k, "services", "service names must be strings");
            continue;
        };
        key_of.insert(name.to_string(), k);
        if let Some(s) = service::service(c, &ctx, name, k, v) {
            services.push(s);
        }
    }
    if services.len() != svc_map.len() {
        return None;
    }
    let mut services = super::select::profiles(c, root, &key_of, services);
    if services.is_empty() {
        c.invalid(
            services_key,
            "services",
            "every service is in a profile that is not enabled; set the project variable \
             COMPOSE_PROFILES",
        );
        return None;
    }

    // A dependency waited on for health needs a healthcheck: the file's, or the image's (which
    // only the deployer can see).
    for s in &services {
        for d in &s.depends_on {
            let Some(dep) = services.iter().find(|x| x.name == d.service) else {
                continue;
            };
            if d.condition != Condition::ServiceHealthy {
                continue;
            }
            let path = format!("services.{}.depends_on.{}", s.name, d.service);
            match &dep.healthcheck {
                Some(h) if h.test.first().map(String::as_str) == Some("NONE") => c.invalid(
                    key_of[&s.name],
                    &path,
                    format!(
                        "waits for {:?} to be healthy, but its healthcheck is disabled; remove \
                         `disable: true` or wait with `condition: service_started`",
                        d.service
                    ),
                ),
                Some(_) => {}
                None => c.warn(
                    key_of[&s.name],
                    &path,
                    format!(
                        "waits for {:?} to be healthy; the file gives it no healthcheck, so its \
                         image's HEALTHCHECK is used, and the deploy fails if the image has none",
                        d.service
                    ),
                ),
            }
        }
    }

    let expose = super::ports::expose(c, root, get("x-clubhost").map(|e| e.1), &services, &key_of)?;
    for s in &mut services {
        if s.gateway && s.name != expose.service {
            c.warn(
                key_of[&s.name],
                &format!("services.{}.networks", s.name),
                "only the exposed service joins the club's gateway; this one stays internal",
            );
        }
        s.gateway = s.name == expose.service;
    }
    super::volumes::share(&mut services);
    let services = start_order(c, &key_of, services)?;
    // The file's volumes, then the project volumes anonymous volumes became.
    let mut all_volumes: Vec<String> = volumes.iter().map(|d| d.safe.clone()).collect();
    for s in &services {
        for m in &s.mounts {
            if !all_volumes.contains(&m.volume) {
                all_volumes.push(m.volume.clone());
            }
        }
    }
    Some(Stack {
        services,
        volumes: all_volumes,
        networks: networks
            .iter()
            .filter(|(_, external)| !external)
            .map(|(n, _)| n.clone())
            .collect(),
        expose,
    })
}

/// Top-level networks: name → whether it is `external` (the club's gateway).
fn networks(c: &mut Checker, node: Option<&Node>) -> Vec<(String, bool)> {
    let Some(node) = node else { return Vec::new() };
    let mut out = Vec::new();
    let Some(map) = node.as_map() else {
        if !matches!(node.value, Value::Null) {
            c.invalid(
                node,
                "networks",
                format!("expected a map, found {}", node.kind()),
            );
        }
        return out;
    };
    for (k, v) in map {
        let name = k.scalar_text().unwrap_or_default();
        let path = format!("networks.{name}");
        let mut external = false;
        let fields = c.entries(
            v,
            &path,
            &[
                "external",
                "name",
                "driver",
                "internal",
                "attachable",
                "labels",
            ],
            |key, _| {
                (key == "driver_opts" || key == "ipam")
                    .then(|| format!("network {key} is managed by clubhost; remove it"))
            },
        );
        for (key, _, val) in fields {
            let fpath = join(&path, key);
            match key {
                // `external: true` or the old `external: { name: ... }` form.
                "external" => {
                    external = match &val.value {
                        Value::Map(_) => true,
                        _ => c.boolean(val, &fpath).unwrap_or(false),
                    }
                }
                "driver" => {
                    if let Some(d) = c.text(val, &fpath)
                        && d != "bridge"
                    {
                        c.fail(
                            val,
                            &fpath,
                            ViolationKind::Policy,
                            format!(
                                "network driver {d:?} is not allowed; projects use bridge networks"
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
        // Internal networks become Docker networks named after them; external ones are the
        // gateway whatever they are called.
        if !external {
            check_name(c, k, &path, &name);
        }
        out.push((name, external));
    }
    out
}

/// Service and volume names become parts of Docker object names and DNS aliases.
pub fn check_name(c: &mut Checker, node: &Node, path: &str, name: &str) -> bool {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !ok {
        c.invalid(
            node,
            path,
            format!("name {name:?} must be lowercase letters, digits, '-' or '_' (at most 63)"),
        );
    }
    ok
}

/// Orders services so each comes after its dependencies; a cycle is an error naming it.
fn start_order(
    c: &mut Checker,
    key_of: &HashMap<String, &Node>,
    services: Vec<ServiceSpec>,
) -> Option<Vec<ServiceSpec>> {
    let mut placed: HashSet<String> = HashSet::new();
    let mut remaining = services;
    let mut ordered = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let before = remaining.len();
        let mut i = 0;
        while i < remaining.len() {
            if remaining[i]
                .depends_on
                .iter()
                .all(|d| placed.contains(&d.service))
            {
                let s = remaining.remove(i);
                placed.insert(s.name.clone());
                ordered.push(s);
            } else {
                i += 1;
            }
        }
        if remaining.len() == before {
            let names: Vec<_> = remaining.iter().map(|s| s.name.as_str()).collect();
            c.invalid(
                key_of[names[0]],
                &format!("services.{}.depends_on", names[0]),
                format!("depends_on forms a cycle among {}", names.join(", ")),
            );
            return None;
        }
    }
    Some(ordered)
}
