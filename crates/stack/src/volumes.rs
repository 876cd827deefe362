//! Project volumes: the top-level `volumes:` (names Docker would refuse mapped to safe ones), the
//! names given to anonymous volumes, and `volumes_from` between services of one project. Every
//! volume is the project's own: no driver options, no external volumes, no other project's data.

use std::collections::HashSet;

use super::checker::{Checker, join};
use super::yaml::{Node, Value};
use super::{Condition, Dependency, ServiceSpec, ViolationKind, VolumeMount, VolumesFrom};

/// A declared volume: the name the file uses and the safe name clubhost gives Docker.
#[derive(Debug, Clone)]
pub struct Declared {
    pub name: String,
    pub safe: String,
}

/// Top-level named volumes. Only local volumes of this project: no driver options (they can
/// mount host paths) and no external volumes (another project's data).
pub fn declared(c: &mut Checker, node: Option<&Node>) -> Vec<Declared> {
    let Some(node) = node else { return Vec::new() };
    let mut out: Vec<Declared> = Vec::new();
    let Some(map) = node.as_map() else {
        if !matches!(node.value, Value::Null) {
            c.invalid(
                node,
                "volumes",
                format!("expected a map, found {}", node.kind()),
            );
        }
        return out;
    };
    for (k, v) in map {
        let name = k.scalar_text().unwrap_or_default();
        let path = format!("volumes.{name}");
        let fields = c.entries(
            v,
            &path,
            &["driver", "labels", "name", "external"],
            |key, val| match key {
                "driver_opts" => Some(
                    "driver_opts can mount host paths or remote shares (`type: none`, `o: bind`, \
                     `device:`); projects use plain named volumes"
                        .into(),
                ),
                "external" if val.scalar_text().as_deref() != Some("false") => Some(
                    "external volumes belong to something outside this project; declare the \
                     volume here and clubhost creates it"
                        .into(),
                ),
                _ => None,
            },
        );
        for (key, knode, val) in fields {
            let fp = join(&path, key);
            match key {
                "driver" => {
                    if let Some(d) = c.text(val, &fp)
                        && d != "local"
                    {
                        c.fail(
                            val,
                            &fp,
                            ViolationKind::Policy,
                            format!(
                                "volume driver {d:?} is not allowed; use the default local driver"
                            ),
                        );
                    }
                }
                "name" => c.warn(
                    knode,
                    &fp,
                    "ignored: clubhost names volumes after the project (clubhost-<project>-<volume>)",
                ),
                _ => {}
            }
        }
        // Names already safe keep themselves; a mapped name avoids every other name.
        let mut taken: Vec<&str> = out.iter().map(|d| d.safe.as_str()).collect();
        taken.extend(
            map.iter()
                .filter_map(|(k, _)| k.as_str())
                .filter(|n| *n != name && safe_name(n) == *n),
        );
        let safe = unique(safe_name(&name), &taken);
        if safe != name {
            c.warn(
                k,
                &path,
                format!(
                    "volume {name:?} is created as {safe:?}: Docker volume names here are \
                     lowercase letters, digits, '-' and '_'"
                ),
            );
        }
        out.push(Declared { name, safe });
    }
    out
}

/// A name Docker accepts as part of `clubhost-<slug>-<name>`: lowercase letters, digits, `-` and
/// `_`, starting with a letter or digit, at most 63 bytes.
pub fn safe_name(name: &str) -> String {
    let mut s = String::new();
    for ch in name.chars() {
        let ch = match ch.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '-',
        };
        // One dash for a run of refused characters (`/var/lib` → `var-lib`).
        if !(ch == '-' && s.ends_with('-')) {
            s.push(ch);
        }
    }
    let start = s
        .find(|c: char| c.is_ascii_alphanumeric())
        .unwrap_or(s.len());
    s.drain(..start);
    s.truncate(63);
    while s.ends_with(['-', '_']) {
        s.pop();
    }
    if s.is_empty() { "volume".into() } else { s }
}

/// `base`, or `base-2`, `base-3`... whichever is not taken.
pub fn unique(base: String, taken: &[&str]) -> String {
    if !taken.contains(&base.as_str()) {
        return base;
    }
    (2..)
        .map(|n| {
            let suffix = format!("-{n}");
            let mut b = base.clone();
            b.truncate(63 - suffix.len());
            b + &suffix
        })
        .find(|n| !taken.contains(&n.as_str()))
        .unwrap_or(base)
}

/// The project volume an anonymous volume becomes: `<service>-<container path>`, never one of the
/// file's own volume names.
pub fn anonymous(service: &str, target: &str, declared: &[Declared]) -> String {
    let taken: Vec<&str> = declared.iter().map(|d| d.safe.as_str()).collect();
    unique(safe_name(&format!("{service}-{target}")), &taken)
}

/// `volumes_from: [service, "service:ro"]`: only services of this project. `container:<name>`
/// would reach a container outside the project.
pub fn volumes_from(
    c: &mut Checker,
    services: &[String],
    me: &str,
    v: &Node,
    p: &str,
    spec: &mut ServiceSpec,
) {
    let Some(items) = c.list(v, p) else { return };
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{p}[{i}]");
        let at = v.as_seq().and_then(|s| s.get(i)).unwrap_or(v);
        if item.starts_with("container:") {
            c.fail(
                at,
                &ip,
                ViolationKind::Policy,
                format!(
                    "{item:?} reaches a container outside this project; share a named volume \
                     declared under the top-level `volumes:` instead"
                ),
            );
            continue;
        }
        let (name, mode) = item.split_once(':').unwrap_or((item, "rw"));
        let read_only = match mode {
            "ro" => true,
            "rw" => false,
            other => {
                c.invalid(at, &ip, format!("mode {other:?}: use ro or rw"));
                continue;
            }
        };
        if name == me || !services.iter().any(|s| s == name) {
            c.fail(
                at,
                &ip,
                ViolationKind::Policy,
                format!(
                    "volumes_from {name:?}: only another service of this project can share its \
                     volumes; share a named volume instead"
                ),
            );
            continue;
        }
        spec.volumes_from.push(VolumesFrom {
            service: name.to_string(),
            read_only,
        });
    }
}

/// Gives each service the volume mounts of the services it names in `volumes_from` (which may
/// themselves share others'), read-only when asked, and makes it start after them, as Compose
/// does. Targets the service mounts itself are kept.
pub fn share(services: &mut [ServiceSpec]) {
    // Each pass resolves one more level of sharing; no chain is longer than the service count.
    for _ in 0..services.len() {
        let mut changed = false;
        for i in 0..services.len() {
            let from = services[i].volumes_from.clone();
            for f in from {
                let Some(src) = services.iter().find(|s| s.name == f.service) else {
                    continue;
                };
                let extra: Vec<VolumeMount> = src
                    .mounts
                    .iter()
                    .map(|m| VolumeMount {
                        read_only: m.read_only || f.read_only,
                        ..m.clone()
                    })
                    .collect();
                let me = &mut services[i];
                let have: HashSet<String> = me.mounts.iter().map(|m| m.target.clone()).collect();
                for m in extra {
                    if !have.contains(&m.target) {
                        me.mounts.push(m);
                        changed = true;
                    }
                }
                if !me.depends_on.iter().any(|d| d.service == f.service) {
                    me.depends_on.push(Dependency {
                        service: f.service.clone(),
                        condition: Condition::ServiceStarted,
                    });
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_become_safe_and_unique() {
        assert_eq!(safe_name("db_data"), "db_data");
        assert_eq!(safe_name("My.Data"), "my-data");
        assert_eq!(safe_name("_x"), "x");
        assert_eq!(safe_name("..."), "volume");
        assert_eq!(safe_name(&"a".repeat(80)).len(), 63);
        assert_eq!(unique("a".into(), &["a", "a-2"]), "a-3");
        assert_eq!(unique("b".into(), &["a"]), "b");
    }
}
