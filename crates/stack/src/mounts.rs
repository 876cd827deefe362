//! A service's `volumes:` in short (`name:/path[:ro]`) and long (`type:, source:, target:`)
//! syntax. Only declared named volumes and tmpfs mounts; every host path is refused by policy.

use super::checker::{Checker, join};
use super::policy;
use super::service::Context;
use super::yaml::Node;
use super::{ServiceSpec, ViolationKind, VolumeMount};

/// Short (`name:/path[:ro]`) and long (`type: volume, source:, target:`) volume syntax. Only
/// declared named volumes and tmpfs mounts; every host path is refused.
pub fn volumes(c: &mut Checker, ctx: &Context, v: &Node, p: &str, spec: &mut ServiceSpec) {
    let Some(seq) = v.as_seq() else {
        c.invalid(v, p, format!("expected a list, found {}", v.kind()));
        return;
    };
    for (i, item) in seq.iter().enumerate() {
        let ip = format!("{p}[{i}]");
        if item.as_map().is_some() {
            long_volume(c, ctx, item, &ip, spec);
            continue;
        }
        let Some(text) = c.text(item, &ip) else {
            continue;
        };
        let parts: Vec<&str> = text.split(':').collect();
        let (source, target, mode) = match parts.as_slice() {
            [target] => ("", *target, None),
            [s, t] => (*s, *t, None),
            [s, t, m] => (*s, *t, Some(*m)),
            _ => {
                c.invalid(
                    item,
                    &ip,
                    format!("{text:?}: use `<named volume>:/path/in/container[:ro]`"),
                );
                continue;
            }
        };
        if policy::is_host_path(source) {
            c.fail(item, &ip, ViolationKind::Policy, policy::host_path(source));
            continue;
        }
        let read_only = match mode {
            None | Some("rw") => false,
            Some("ro") => true,
            Some(other) => {
                c.invalid(
                    item,
                    &ip,
                    format!("{text:?}: mode {other:?} is not supported (use ro or rw)"),
                );
                continue;
            }
        };
        mount(c, ctx, item, &ip, source, target, read_only, spec);
    }
}

fn long_volume(c: &mut Checker, ctx: &Context, item: &Node, ip: &str, spec: &mut ServiceSpec) {
    let fields = c.entries(
        item,
        ip,
        &[
            "type",
            "source",
            "target",
            "read_only",
            "volume",
            "tmpfs",
            "consistency",
        ],
        |k, _| {
            (k == "bind").then(|| "bind mounts reach the server's files; use a named volume".into())
        },
    );
    let mut typ = "volume".to_string();
    let (mut source, mut target, mut read_only, mut size) =
        (String::new(), String::new(), false, None);
    let mut at = item;
    for (k, _, v) in fields {
        let fp = join(ip, k);
        match k {
            "type" => typ = c.text(v, &fp).unwrap_or_default(),
            "source" => {
                source = c.text(v, &fp).unwrap_or_default();
                at = v;
            }
            "target" => target = c.text(v, &fp).unwrap_or_default(),
            "read_only" => read_only = c.boolean(v, &fp).unwrap_or(false),
            "tmpfs" => {
                for (k, _, v) in c.entries(v, &fp, &["size", "mode"], |_, _| None) {
                    if k == "size" {
                        size = c.text(v, &join(&fp, k));
                    }
                }
            }
            // `volume: { nocopy }` and `consistency` change nothing here.
            _ => {}
        }
    }
    match typ.as_str() {
        "volume" => {
            if policy::is_host_path(&source) {
                c.fail(at, ip, ViolationKind::Policy, policy::host_path(&source));
            } else {
                mount(c, ctx, at, ip, &source, &target, read_only, spec);
            }
        }
        "bind" => c.fail(
            at,
            &join(ip, "type"),
            ViolationKind::Policy,
            format!("type: bind — {}", policy::host_path(&source)),
        ),
        "tmpfs" => {
            if !target.starts_with('/') {
                c.invalid(item, ip, "a tmpfs mount needs an absolute `target`");
            } else {
                let opts = size.map(|s| format!("size={s}")).unwrap_or_default();
                spec.tmpfs.insert(target, opts);
            }
        }
        "npipe" | "cluster" | "image" => c.fail(
            item,
            &join(ip, "type"),
            ViolationKind::Policy,
            format!("type: {typ} reaches outside the project; use a named volume"),
        ),
        other => c.invalid(
            item,
            &join(ip, "type"),
            format!("unknown volume type {other:?}"),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn mount(
    c: &mut Checker,
    ctx: &Context,
    at: &Node,
    ip: &str,
    source: &str,
    target: &str,
    read_only: bool,
    spec: &mut ServiceSpec,
) {
    if source.is_empty() {
        c.invalid(
            at,
            ip,
            format!(
                "anonymous volume {target:?}: name it (`data:{target}`) and declare it under the \
             top-level `volumes:`"
            ),
        );
    } else if !ctx.volumes.iter().any(|v| v == source) {
        c.invalid(
            at,
            ip,
            format!("volume {source:?} is not declared under the top-level `volumes:`"),
        );
    } else if !target.starts_with('/') {
        c.invalid(
            at,
            ip,
            format!("{target:?}: the container path must be absolute"),
        );
    } else {
        spec.mounts.push(VolumeMount {
            volume: source.to_string(),
            target: target.to_string(),
            read_only,
        });
    }
}
