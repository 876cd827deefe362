//! References into the project's own files: `build:`, relative bind mounts, `env_file`, and
//! `secrets:`/`configs:` read from a `file:` (or a project variable). The check records each in
//! the service (`ServiceSpec::build`, `files`, `secrets`, `env_files`) and, because only the
//! project's files can provide them, as *needs the project's files*: a stack submitted as a
//! compose file alone is refused with that reason ([`super::load`]), while
//! [`super::load_with_files`] resolves them against the project's folder.
//!
//! A path that climbs out of the project's folder (`../`) is a host path, refused by policy.

use std::collections::BTreeMap;

use super::checker::{Checker, join};
use super::project::normalize;
use super::yaml::{Node, Value};
use super::{
    Build, EnvFileRef, FileMount, FileUse, SecretFile, SecretKind, SecretSource, ServiceSpec,
    ViolationKind,
};

/// What to do when the stack came alone.
const INSTEAD: &str = "submit the project with its files (a folder, an archive or a git \
                       repository) to deploy it";

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

/// A relative bind mount: the project's files at `source`, copied into the container at `target`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn relative_bind(
    c: &mut Checker,
    at: &Node,
    ip: &str,
    source: &str,
    target: &str,
    read_only: bool,
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
    c.project_file(at, ip, FileUse::Bind, source);
    c.needs(
        at,
        ip,
        format!(
            "needs the project's files: {source:?} is mounted from the project's folder at \
             {target:?} (its files are copied in, never a host path); {INSTEAD}"
        ),
    );
    if !read_only {
        c.warn(
            at,
            ip,
            format!(
                "{source:?} is writable: a folder becomes a project volume seeded with the \
                 project's files once (later changes to the folder do not replace its data); a \
                 file is copied into each new container"
            ),
        );
    }
    spec.files.push(FileMount {
        source: normalize(source),
        target: target.to_string(),
        read_only,
        folder: false,
        volume: None,
    });
}

/// `build: ./dir` or `build: { context, dockerfile, args, target }`.
pub(crate) fn build(
    c: &mut Checker,
    knode: &Node,
    v: &Node,
    p: &str,
    spec: &ServiceSpec,
) -> Option<Build> {
    let mut context = ".".to_string();
    let mut dockerfile = None;
    let mut args = BTreeMap::new();
    let mut target = None;
    let mut context_node = v;
    if v.as_map().is_some() {
        let fields = c.entries(
            v,
            p,
            &["context", "dockerfile", "args", "target", "labels"],
            |k, _| match k {
                "network" | "extra_hosts" | "privileged" | "entitlements" | "ssh" | "secrets" => {
                    Some(format!(
                        "build `{k}:` reaches outside the build's limits; clubhost builds with \
                         the club's own settings"
                    ))
                }
                _ => None,
            },
        );
        for (k, _, val) in fields {
            let fp = join(p, k);
            match k {
                "context" => {
                    context = c.nonempty(val, &fp)?;
                    context_node = val;
                }
                "dockerfile" => dockerfile = Some((c.nonempty(val, &fp)?, val, fp)),
                "args" => {
                    for (ak, av) in c.pairs(val, &fp).unwrap_or_default() {
                        // `- NAME` alone takes the value from the environment: none here.
                        args.insert(ak, av.unwrap_or_default());
                    }
                }
                "target" => target = c.nonempty(val, &fp),
                // Labels on the built image: clubhost puts its own; the member's are harmless.
                _ => {}
            }
        }
    } else {
        context = c.nonempty(v, p)?;
    }
    if context.contains("://") || context.starts_with(['/', '~']) || escapes(&context) {
        c.fail(
            context_node,
            p,
            ViolationKind::Policy,
            format!(
                "build context {context:?} is outside the project's files: a context must be a \
                 folder of the project (`.` or `./app`)"
            ),
        );
        return None;
    }
    let written = context;
    let context = normalize(&written);
    let dockerfile = match dockerfile {
        None => "Dockerfile".to_string(),
        Some((d, node, fp)) => {
            if d.starts_with(['/', '~']) || escapes(&d) {
                c.fail(
                    node,
                    &fp,
                    ViolationKind::Policy,
                    format!(
                        "dockerfile {d:?} is outside the build context {context:?}: put it in \
                         the context folder"
                    ),
                );
                return None;
            }
            normalize(&d)
        }
    };
    c.project_file(
        knode,
        p,
        FileUse::BuildContext {
            dockerfile: Some(dockerfile.clone()),
        },
        &written,
    );
    let image = if spec.image.is_empty() {
        " (or replace `build:` with `image:` naming a published image)"
    } else {
        ""
    };
    c.needs(
        knode,
        p,
        format!("needs the project's files: `build:` builds the image from {written:?}; {INSTEAD}{image}"),
    );
    Some(Build {
        context,
        dockerfile,
        args,
        target,
    })
}

/// `env_file: .env`, a list of them, or long entries (`path:`, `required:`).
pub(crate) fn env_file(c: &mut Checker, knode: &Node, v: &Node, p: &str) -> Vec<EnvFileRef> {
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
        c.project_file(item, &ip, FileUse::EnvFile { required }, &path);
        refs.push(EnvFileRef {
            file: path,
            required,
            line: item.pos.line,
            column: item.pos.column,
            path: ip,
        });
    }
    if !refs.is_empty() {
        let names: Vec<&str> = refs.iter().map(|r| r.file.as_str()).collect();
        c.needs(
            knode,
            p,
            format!(
                "needs the project's files: env_file {} is read from the project's folder; \
                 {INSTEAD} (or put the values under `environment:`, secrets as project variables)",
                names.join(", ")
            ),
        );
    }
    refs
}

/// Top-level `secrets:` or `configs:`: the names declared and where each value comes from.
/// `file:` needs the project's files; `environment:` names a project variable; `external:`
/// belongs to something outside the project.
pub(crate) fn declared(
    c: &mut Checker,
    what: &str,
    node: Option<&Node>,
) -> Vec<(String, Option<SecretSource>)> {
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
            &["file", "environment", "name", "labels"],
            |key, val| match key {
                "external" if val.scalar_text().as_deref() != Some("false") => Some(format!(
                    "external {what} belong to something outside this project; set the value as a \
                 project variable and name it with `environment:`"
                )),
                "content" => Some(format!(
                    "{what} from `content:` are not supported yet; set the value as a project \
                     variable and name it with `environment:`"
                )),
                _ => None,
            },
        );
        let mut source = None;
        for (key, knode, val) in fields {
            let fp = join(&path, key);
            match key {
                "environment" => {
                    let Some(var) = c.nonempty(val, &fp) else {
                        continue;
                    };
                    if c.var(&var).is_none() {
                        c.invalid(
                            val,
                            &fp,
                            format!(
                                "project variable {var:?} is not set: set it (as a secret) \
                                 before deploying"
                            ),
                        );
                    }
                    source = Some(SecretSource::Variable(var));
                }
                "file" => {
                    let Some(file) = c.text(val, &fp) else {
                        continue;
                    };
                    if file.starts_with(['/', '~']) || escapes(&file) {
                        c.fail(
                            val,
                            &fp,
                            ViolationKind::Policy,
                            format!(
                                "{file:?} is outside the project's folder: it would read the \
                                 server's files; set the value as a project variable instead"
                            ),
                        );
                        continue;
                    }
                    c.project_file(knode, &fp, FileUse::SecretOrConfig, &file);
                    c.needs(
                        knode,
                        &fp,
                        format!(
                            "needs the project's files: {what} {name:?} is read from {file:?}; \
                             {INSTEAD} (or set the value as a project variable)"
                        ),
                    );
                    source = Some(SecretSource::File(normalize(&file)));
                }
                _ => {}
            }
        }
        out.push((name, source));
    }
    out
}

/// A service's `secrets:`/`configs:`: short names or long entries, each naming a declared one;
/// each becomes a file of the service's container.
pub(crate) fn uses(
    c: &mut Checker,
    kind: SecretKind,
    declared: &[(String, Option<SecretSource>)],
    v: &Node,
    p: &str,
    spec: &mut ServiceSpec,
) {
    let what = match kind {
        SecretKind::Secret => "secrets",
        SecretKind::Config => "configs",
    };
    let Some(items) = v.as_seq() else {
        c.invalid(v, p, format!("expected a list, found {}", v.kind()));
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{p}[{i}]");
        let (mut name, mut target, mut mode, mut uid, mut gid) = (None, None, 0o400, None, None);
        if item.as_map().is_some() {
            for (k, _, val) in c.entries(
                item,
                &ip,
                &["source", "target", "uid", "gid", "mode"],
                |_, _| None,
            ) {
                let fp = join(&ip, k);
                match k {
                    "source" => name = c.nonempty(val, &fp),
                    "target" => target = c.nonempty(val, &fp),
                    "mode" => mode = file_mode(c, val, &fp).unwrap_or(mode),
                    "uid" => uid = id(c, val, &fp),
                    _ => gid = id(c, val, &fp),
                }
            }
        } else {
            name = c.text(item, &ip);
        }
        let Some(name) = name else { continue };
        let Some((_, source)) = declared.iter().find(|(n, _)| *n == name) else {
            c.invalid(
                item,
                &ip,
                format!("{name:?} is not declared under the top-level `{what}:`"),
            );
            continue;
        };
        let Some(source) = source.clone() else {
            c.invalid(
                item,
                &ip,
                format!("{what} {name:?} needs `file:` or `environment:`"),
            );
            continue;
        };
        // Compose: a secret's relative target is under /run/secrets; a config's under /.
        let target = match (target, kind) {
            (Some(t), _) if t.starts_with('/') => t,
            (Some(t), SecretKind::Secret) => format!("/run/secrets/{t}"),
            (Some(t), SecretKind::Config) => format!("/{t}"),
            (None, SecretKind::Secret) => format!("/run/secrets/{name}"),
            (None, SecretKind::Config) => format!("/{name}"),
        };
        if target.split('/').any(|part| part == "..") {
            c.invalid(
                item,
                &ip,
                format!("target {target:?} must not contain `..`"),
            );
            continue;
        }
        let content = match &source {
            SecretSource::Variable(var) => c.var(var).unwrap_or_default().as_bytes().to_vec(),
            SecretSource::File(_) => Vec::new(),
        };
        spec.secrets.push(SecretFile {
            name,
            kind,
            target,
            mode,
            uid,
            gid,
            source,
            content,
        });
    }
}

/// A file mode as Compose writes it: octal (`0440`, `"0440"`, `0o440`).
fn file_mode(c: &mut Checker, v: &Node, p: &str) -> Option<u32> {
    let t = c.text(v, p)?;
    let digits = t.trim().trim_start_matches("0o").trim_start_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o777 => Some(m),
        _ => {
            c.invalid(v, p, format!("{t:?} is not a file mode like 0400 or 0440"));
            None
        }
    }
}

/// A user or group id.
fn id(c: &mut Checker, v: &Node, p: &str) -> Option<u32> {
    let t = c.text(v, p)?;
    match t.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => {
            c.invalid(v, p, format!("{t:?} is not a numeric id"));
            None
        }
    }
}
