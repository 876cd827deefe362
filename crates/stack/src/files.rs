//! References into the project's own files: `build:`, relative bind mounts, `env_file`, and
//! `secrets:`/`configs:` read from a `file:`. clubhost cannot receive a project's files yet, so
//! a file that needs them is judged on everything else and reported as *needs the project's
//! files* (not refused): `stack check` accepts it, while [`super::load`] (submit, deploy) refuses
//! it with that reason until project files exist.
//!
//! A path that climbs out of the project's folder (`../`) is a host path, refused by policy.

use super::checker::{Checker, join};
use super::yaml::{Node, Value};
use super::{FileUse, ServiceSpec, ViolationKind};

/// Until a project can bring its files, what to do instead.
const INSTEAD: &str = "clubhost cannot receive a project's files yet: the file can be checked but \
                       not deployed";

/// Whether a volume source is a path inside the project's folder (`./conf`, `data/x`, `.`).
pub(crate) fn is_relative(source: &str) -> bool {
    !source.is_empty()
        && !source.starts_with(['/', '~', '\\', '$'])
        && !source.contains(":\\")
        && (source.starts_with('.') || source.contains('/'))
        && !escapes(source)
}

/// Whether a relative path climbs out of the project's folder.
pub(crate) fn escapes(path: &str) -> bool {
    let mut depth = 0i32;
    for part in path.split(['/', '\\']) {
        match part {
            ".." => depth -= 1,
            "" | "." => {}
            _ => depth += 1,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// A relative bind mount: recorded as needing the project's files.
pub(crate) fn relative_bind(c: &mut Checker, at: &Node, ip: &str, source: &str, target: &str) {
    let instead =
        if super::policy::looks_like_file(source) || super::policy::looks_like_file(target) {
            String::new()
        } else {
            let name = super::volumes::safe_name(super::policy::last_part(target));
            format!(" (if it only keeps data, a named volume does: `{name}:{target}`)")
        };
    c.project_file(at, ip, FileUse::Bind, source);
    c.needs(
        at,
        ip,
        format!(
            "needs the project's files: {source:?} is mounted from the project's folder at \
             {target:?}; {INSTEAD}{instead}"
        ),
    );
}

/// `build: ./dir` or `build: { context, dockerfile, ... }`.
pub(crate) fn build(c: &mut Checker, knode: &Node, v: &Node, p: &str, spec: &ServiceSpec) {
    let field = |name: &str| match &v.value {
        Value::Map(m) => m
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .and_then(|(_, v)| v.scalar_text()),
        _ => None,
    };
    let context = match &v.value {
        Value::Map(_) => field("context").unwrap_or_else(|| ".".into()),
        _ => c.text(v, p).unwrap_or_default(),
    };
    // A remote context (a git URL) is not in the project's folder; neither is an absolute one.
    if !context.contains("://") && !context.starts_with(['/', '~']) && !escapes(&context) {
        let dockerfile = field("dockerfile");
        c.project_file(knode, p, FileUse::BuildContext { dockerfile }, &context);
    }
    let image = if spec.image.is_empty() {
        " (or replace `build:` with `image:` naming a published image to deploy now)"
    } else {
        ""
    };
    c.needs(
        knode,
        p,
        format!("needs the project's files: `build:` builds the image from {context:?}; {INSTEAD}{image}"),
    );
}

/// `env_file: .env`, a list of them, or long entries (`path:`, `required:`).
pub(crate) fn env_file(c: &mut Checker, knode: &Node, v: &Node, p: &str) {
    let mut paths = Vec::new();
    let mut refs = Vec::new();
    let items: Vec<&Node> = match &v.value {
        Value::Seq(s) => s.iter().collect(),
        _ => vec![v],
    };
    for (i, item) in items.into_iter().enumerate() {
        let ip = format!("{p}[{i}]");
        let mut required = true;
        let path = if item.as_map().is_some() {
            let mut path = None;
            for (k, _, val) in c.entries(item, &ip, &["path", "required", "format"], |_, _| None) {
                match k {
                    "path" => path = c.text(val, &join(&ip, k)),
                    "required" => required = c.boolean(val, &join(&ip, k)).unwrap_or(true),
                    _ => {}
                }
            }
            path
        } else {
            c.text(item, &ip)
        };
        let Some(path) = path else { continue };
        if path.starts_with(['/', '~']) || escapes(&path) {
            c.fail(
                item,
                &ip,
                ViolationKind::Policy,
                format!(
                    "env_file {path:?} is outside the project's folder: it would read the \
                     server's files; put the values under `environment:` and secrets in project \
                     variables"
                ),
            );
            continue;
        }
        refs.push((item, ip, required, path.clone()));
        paths.push(path);
    }
    for (item, ip, required, path) in refs {
        c.project_file(item, &ip, FileUse::EnvFile { required }, &path);
    }
    if !paths.is_empty() {
        c.needs(
            knode,
            p,
            format!(
                "needs the project's files: env_file {} is read from the project's folder; \
                 {INSTEAD} (or put the values under `environment:`, secrets as project variables)",
                paths.join(", ")
            ),
        );
    }
}

/// Top-level `secrets:` or `configs:`: the names declared. `file:` needs the project's files;
/// `external:` belongs to something outside the project; other sources are not supported yet.
pub(crate) fn declared(c: &mut Checker, what: &str, node: Option<&Node>) -> Vec<String> {
    let Some(node) = node else { return Vec::new() };
    let mut out = Vec::new();
    let Some(map) = node.as_map() else {
        if !matches!(node.value, Value::Null) {
            c.invalid(node, what, format!("expected a map, found {}", node.kind()));
        }
        return out;
    };
    for (k, v) in map {
        let name = k.scalar_text().unwrap_or_default();
        let path = join(what, &name);
        let fields = c.entries(
            v,
            &path,
            &["file", "name", "labels"],
            |key, val| match key {
                "external" if val.scalar_text().as_deref() != Some("false") => Some(format!(
                    "external {what} belong to something outside this project; set the value as a \
                 project variable instead"
                )),
                "environment" | "content" => Some(format!(
                    "{what} from `{key}:` are not supported yet; pass the value through \
                 `environment:` with a project variable"
                )),
                _ => None,
            },
        );
        for (key, knode, val) in fields {
            if key != "file" {
                continue;
            }
            let Some(file) = c.text(val, &join(&path, key)) else {
                continue;
            };
            if file.starts_with(['/', '~']) || escapes(&file) {
                c.fail(
                    val,
                    &join(&path, key),
                    ViolationKind::Policy,
                    format!(
                        "{file:?} is outside the project's folder: it would read the server's \
                         files; set the value as a project variable instead"
                    ),
                );
            } else {
                c.project_file(knode, &join(&path, key), FileUse::SecretOrConfig, &file);
                c.needs(
                    knode,
                    &join(&path, key),
                    format!(
                        "needs the project's files: {what} {name:?} is read from {file:?}; \
                         {INSTEAD} (or set the value as a project variable)"
                    ),
                );
            }
        }
        out.push(name);
    }
    out
}

/// A service's `secrets:`/`configs:`: short names or long entries, each naming a declared one.
pub(crate) fn uses(c: &mut Checker, what: &str, declared: &[String], v: &Node, p: &str) {
    let Some(items) = v.as_seq() else {
        c.invalid(v, p, format!("expected a list, found {}", v.kind()));
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{p}[{i}]");
        let name = if item.as_map().is_some() {
            let mut source = None;
            for (k, _, val) in c.entries(
                item,
                &ip,
                &["source", "target", "uid", "gid", "mode"],
                |_, _| None,
            ) {
                let t = c.text(val, &join(&ip, k));
                if k == "source" {
                    source = t;
                }
            }
            source
        } else {
            c.text(item, &ip)
        };
        if let Some(name) = name
            && !declared.contains(&name)
        {
            c.invalid(
                item,
                &ip,
                format!("{name:?} is not declared under the top-level `{what}:`"),
            );
        }
    }
}
