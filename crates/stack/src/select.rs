//! Which services a file defines and which are deployed: `extends` (a service built on another
//! of the same file, merged as Compose merges it) and `profiles` (services deployed only when the
//! project variable `COMPOSE_PROFILES` enables one of their profiles).
//!
//! `extends` is resolved on the YAML tree, before a service is read, so everything the base
//! carries (a `privileged: true`, a host path) is checked in every service that extends it.

use std::collections::HashMap;

use super::checker::{Checker, join};
use super::yaml::{Node, Value};
use super::{ServiceSpec, ViolationKind};

/// Keys whose lists add up when a service extends another (Compose's merge rules); every other
/// list, like every scalar, is replaced by the extending service's.
const APPENDED: &[&str] = &[
    "volumes",
    "ports",
    "expose",
    "cap_add",
    "cap_drop",
    "devices",
    "dns",
    "dns_search",
    "tmpfs",
    "security_opt",
    "volumes_from",
    "links",
    "external_links",
    "env_file",
    "secrets",
    "configs",
    "sysctls",
    "extra_hosts",
    "environment",
    "labels",
    "profiles",
];

/// Each service's definition with `extends` merged in, in file order. A service whose
/// `extends` cannot be resolved keeps its own definition (the violation is recorded).
pub fn extended(c: &mut Checker, services: &[(Node, Node)]) -> Vec<Node> {
    services
        .iter()
        .map(|(k, v)| {
            let name = k.scalar_text().unwrap_or_default();
            expand(c, services, &name, v, &mut vec![name.clone()]).unwrap_or_else(|| v.clone())
        })
        .collect()
}

fn expand(
    c: &mut Checker,
    services: &[(Node, Node)],
    name: &str,
    node: &Node,
    chain: &mut Vec<String>,
) -> Option<Node> {
    let Some((_, ext)) = node
        .as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("extends")))
    else {
        return Some(node.clone());
    };
    let path = format!("services.{name}.extends");
    let base = match &ext.value {
        Value::Map(_) => {
            let mut base = None;
            for (k, knode, v) in c.entries(ext, &path, &["service", "file"], |_, _| None) {
                if k == "file" {
                    c.fail(
                        knode,
                        &join(&path, k),
                        ViolationKind::Unsupported,
                        "extending a service of another file needs the project's files, which \
                         clubhost does not have yet; copy that service into this file and extend \
                         it here",
                    );
                    return None;
                }
                base = c.text(v, &join(&path, k));
            }
            base
        }
        _ => c.text(ext, &path),
    };
    let Some(base) = base.filter(|b| !b.is_empty()) else {
        c.invalid(ext, &path, "`extends` needs `service: <name>`");
        return None;
    };
    if chain.contains(&base) {
        c.invalid(
            ext,
            &path,
            format!("extends forms a cycle: {} → {base}", chain.join(" → ")),
        );
        return None;
    }
    let Some((_, base_node)) = services
        .iter()
        .find(|(k, _)| k.scalar_text().as_deref() == Some(base.as_str()))
    else {
        c.invalid(
            ext,
            &path,
            format!("extends {base:?}, which is not a service of this file"),
        );
        return None;
    };
    chain.push(base.clone());
    let base_node = expand(c, services, &base, base_node, chain);
    chain.pop();
    Some(merge(&base_node?, node, ""))
}

/// `child` over `base`: maps merge key by key, [`APPENDED`] lists add up, the rest is replaced.
fn merge(base: &Node, child: &Node, key: &str) -> Node {
    match (&base.value, &child.value) {
        (Value::Map(b), Value::Map(ch)) => {
            let top = key.is_empty();
            let mut entries: Vec<(Node, Node)> = b
                .iter()
                .filter(|(k, _)| !(top && k.as_str() == Some("extends")))
                .cloned()
                .collect();
            for (k, v) in ch {
                let name = k.scalar_text().unwrap_or_default();
                if top && name == "extends" {
                    continue;
                }
                match entries
                    .iter_mut()
                    .find(|(bk, _)| bk.scalar_text().as_deref() == Some(name.as_str()))
                {
                    Some(slot) => *slot = (k.clone(), merge(&slot.1, v, &name)),
                    None => entries.push((k.clone(), v.clone())),
                }
            }
            child.with_value(Value::Map(entries))
        }
        (Value::Seq(b), Value::Seq(ch)) if APPENDED.contains(&key) => {
            child.with_value(Value::Seq(b.iter().chain(ch).cloned().collect()))
        }
        _ => child.clone(),
    }
}

/// Keeps the services whose profiles are enabled (or that have none); the others are checked
/// like every service but not deployed, with a warning saying how to enable them. A deployed
/// service may not need one that is left out.
pub fn profiles(
    c: &mut Checker,
    root: &Node,
    key_of: &HashMap<String, &Node>,
    services: Vec<ServiceSpec>,
) -> Vec<ServiceSpec> {
    let at = |name: &str| key_of.get(name).copied().unwrap_or(root);
    let enabled: Vec<String> = c
        .var("COMPOSE_PROFILES")
        .unwrap_or("")
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let active = |s: &ServiceSpec| {
        s.profiles.is_empty()
            || s.profiles
                .iter()
                .any(|p| enabled.contains(p) || enabled.iter().any(|e| e == "*"))
    };
    let (on, off): (Vec<ServiceSpec>, Vec<ServiceSpec>) = services.into_iter().partition(active);
    for s in &off {
        c.warn(
            at(&s.name),
            &format!("services.{}.profiles", s.name),
            format!(
                "not deployed: {:?} is only in the profile(s) {}; to deploy it, set the project \
                 variable COMPOSE_PROFILES={}",
                s.name,
                s.profiles.join(", "),
                s.profiles[0]
            ),
        );
    }
    for s in &on {
        let needs = s
            .depends_on
            .iter()
            .map(|d| &d.service)
            .chain(s.volumes_from.iter().map(|f| &f.service));
        for dep in needs {
            if let Some(o) = off.iter().find(|o| &o.name == dep) {
                c.invalid(
                    at(&s.name),
                    &format!("services.{}", s.name),
                    format!(
                        "needs {dep:?}, which is only in the profile(s) {}; set the project \
                         variable COMPOSE_PROFILES={} or give {:?} the same profile",
                        o.profiles.join(", "),
                        o.profiles[0],
                        s.name
                    ),
                );
            }
        }
    }
    on
}
