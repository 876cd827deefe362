//! A service's `volumes:` in short (`name:/path[:ro]`) and long (`type:, source:, target:`)
//! syntax. Only declared named volumes and tmpfs mounts; every host path is refused by policy.

use super::checker::{Checker, join};
use super::context::Context;
use super::policy;
use super::yaml::Node;
use super::{ServiceSpec, ViolationKind, VolumeMount};

/// Short (`name:/path[:ro]`) and long (`type: volume, source:, target:`) volume syntax. Only
/// declared named volumes and tmpfs mounts; every host path is refused.
pub(crate) fn volumes(c: &mut Checker, ctx: &Context, v: &Node, p: &str, spec: &mut ServiceSpec) {
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
        if super::files::is_relative(source) {
            let read_only = mode.is_some_and(|m| m.split(',').any(|m| m == "ro"));
            super::files::relative_bind(c, item, &ip, source, target, read_only, spec);
            continue;
        }
        if policy::is_host_path(source) {
            c.fail(
                item,
                &ip,
                ViolationKind::Policy,
                policy::host_path(source, target),
            );
            continue;
        }
        let Some(opts) = modes(c, item, &ip, &text, mode) else {
            continue;
        };
        // `${DATA}:/data` with DATA unset reads as an anonymous volume; say which variable.
        let unset = if source.is_empty() && parts.len() > 1 {
            item.scalar_text().and_then(|raw| leading_variable(&raw))
        } else {
            None
        };
        mount(c, ctx, item, &ip, source, target, opts, unset, spec);
    }
}

/// What a mount's options ask for.
#[derive(Default)]
struct Opts {
    read_only: bool,
    nocopy: bool,
}

/// `ro`, `rw`, `nocopy`, and the SELinux (`z`, `Z`) and macOS (`cached`, `delegated`,
/// `consistent`) hints, comma-separated; the hints mean nothing for a named volume on this
/// server, so they are accepted with a note.
fn modes(c: &mut Checker, at: &Node, ip: &str, text: &str, mode: Option<&str>) -> Option<Opts> {
    let mut o = Opts::default();
    let mut hints = Vec::new();
    for m in mode.unwrap_or("").split(',').filter(|m| !m.is_empty()) {
        match m {
            "rw" => o.read_only = false,
            "ro" => o.read_only = true,
            "nocopy" => o.nocopy = true,
            "z" | "Z" | "cached" | "delegated" | "consistent" => hints.push(m),
            other => {
                c.invalid(
                    at,
                    ip,
                    format!("{text:?}: mode {other:?} is not supported (use ro or rw)"),
                );
                return None;
            }
        }
    }
    if !hints.is_empty() {
        c.warn(
            at,
            ip,
            format!(
                "{} ignored: SELinux labels (z, Z) and macOS file-sharing hints (cached, \
                 delegated, consistent) change nothing for a project volume on this server",
                hints.join(", ")
            ),
        );
    }
    Some(o)
}

/// The variable a volume entry starts with (`${UPLOAD_LOCATION}:/data`, `$DATA:/x`).
fn leading_variable(raw: &str) -> Option<String> {
    let rest = raw.strip_prefix('$')?;
    let rest = rest.strip_prefix('{').unwrap_or(rest);
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
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
            "bind",
        ],
        |_, _| None,
    );
    let mut typ = "volume".to_string();
    let (mut source, mut target, mut size) = (String::new(), String::new(), None);
    let mut opts = Opts::default();
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
            "read_only" => opts.read_only = c.boolean(v, &fp).unwrap_or(false),
            "volume" => {
                for (k, _, v) in c.entries(v, &fp, &["nocopy"], |_, _| None) {
                    opts.nocopy = c.boolean(v, &join(&fp, k)).unwrap_or(false);
                }
            }
            "tmpfs" => {
                for (k, _, v) in c.entries(v, &fp, &["size", "mode"], |_, _| None) {
                    if k == "size" {
                        size = c.text(v, &join(&fp, k));
                    }
                }
            }
            // `consistency` is a macOS file-sharing hint: nothing here.
            _ => {}
        }
    }
    match typ.as_str() {
        "volume" => {
            if policy::is_host_path(&source) {
                c.fail(
                    at,
                    ip,
                    ViolationKind::Policy,
                    policy::host_path(&source, &target),
                );
            } else {
                mount(c, ctx, at, ip, &source, &target, opts, None, spec);
            }
        }
        "bind" if super::files::is_relative(&source) => {
            super::files::relative_bind(c, at, ip, &source, &target, opts.read_only, spec)
        }
        "bind" => c.fail(
            at,
            &join(ip, "type"),
            ViolationKind::Policy,
            format!("type: bind — {}", policy::host_path(&source, &target)),
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
    opts: Opts,
    unset: Option<String>,
    spec: &mut ServiceSpec,
) {
    if !target.starts_with('/') {
        c.invalid(
            at,
            ip,
            format!("{target:?}: the container path must be absolute"),
        );
        return;
    }
    let volume = if source.is_empty() {
        // Compose would make a fresh anonymous volume; a named project volume keeps the data
        // across redeploys and is removed with the project.
        let name = super::volumes::anonymous(&spec.name, target, ctx.volumes);
        let why = match unset {
            Some(var) => format!(
                "variable {var} is not set, so {target:?} would be an anonymous volume; it is \
                 kept in the project volume {name:?}; set {var} to a volume name declared under \
                 the top-level `volumes:` to choose one"
            ),
            None => format!("anonymous volume {target:?} is kept in the project volume {name:?}"),
        };
        c.warn(at, ip, why);
        name
    } else if let Some(d) = ctx.volumes.iter().find(|d| d.name == source) {
        d.safe.clone()
    } else {
        c.invalid(
            at,
            ip,
            format!(
                "volume {source:?} is not declared under the top-level `volumes:`; add \
                 `volumes: {{ {source}: }}` at the end of the file"
            ),
        );
        return;
    };
    // A later mount on the same path wins, as when a service extends another.
    spec.mounts.retain(|m| m.target != target);
    spec.mounts.push(VolumeMount {
        volume,
        target: target.to_string(),
        read_only: opts.read_only,
        nocopy: opts.nocopy,
    });
}
