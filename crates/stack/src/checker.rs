//! The checker's state and the helpers every part of it uses: reading scalars with
//! interpolation, checking a map's keys against what is supported and what the policy refuses,
//! and recording violations with the node's line and column.

use std::time::Duration;

use super::interpolate::{Vars, interpolate, mask};
use super::limits::Limits;
use super::yaml::{self, Node, Value};
use super::{FileUse, ProjectFile, Report, Violation, ViolationKind};

pub(crate) struct Checker<'a> {
    vars: &'a Vars,
    pub(crate) limits: &'a Limits,
    pub(crate) violations: Vec<Violation>,
    pub(crate) warnings: Vec<Violation>,
    /// References into the project's files (`super::files`).
    pub(crate) needs_files: Vec<Violation>,
    /// The paths those references name, for a caller that can look at the project's folder.
    pub(crate) project_files: Vec<ProjectFile>,
    /// Secret values interpolated so far: messages mask these, and only these, so the file's own
    /// text is never starred out.
    secrets: Vec<String>,
    /// The interpolated texts that received a secret value: only these are masked in the stack.
    carriers: Vec<String>,
}

/// Checks one file, reading its parsed tree with `read` (the crate root passes `top::stack`, so
/// this module, which every part uses, uses none of them). Never panics on any input; the seeded
/// run in `tests/mutated.rs` and the `stack_check` fuzz target hold it to that.
pub(crate) fn run(
    source: &str,
    vars: &Vars,
    limits: &Limits,
    read: impl FnOnce(&mut Checker, &Node) -> Option<super::Stack>,
) -> Report {
    let mut c = Checker {
        vars,
        limits,
        violations: Vec::new(),
        warnings: Vec::new(),
        needs_files: Vec::new(),
        project_files: Vec::new(),
        secrets: Vec::new(),
        carriers: Vec::new(),
    };
    let stack = match yaml::parse(source) {
        Ok(root) => read(&mut c, &root),
        Err(e) => {
            c.violations.push(Violation {
                line: e.pos.line,
                column: e.pos.column,
                path: "(file)".into(),
                kind: ViolationKind::Syntax,
                // The file's own text, before any interpolation: nothing to mask.
                message: format!("not valid YAML: {}", e.message),
            });
            None
        }
    };
    if stack.is_none() && c.violations.is_empty() {
        // Every refusal records its reason; this only guards the promise that a file without a
        // stack always says why.
        c.violations.push(Violation {
            line: 0,
            column: 0,
            path: "(file)".into(),
            kind: ViolationKind::Invalid,
            message: "the stack could not be read".into(),
        });
    }
    c.violations.sort_by_key(|v| (v.line, v.column));
    c.warnings.sort_by_key(|v| (v.line, v.column));
    c.needs_files.sort_by_key(|v| (v.line, v.column));
    c.project_files.sort_by_key(|f| (f.line, f.column));
    Report {
        stack: stack.filter(|_| c.violations.is_empty()),
        violations: c.violations,
        warnings: c.warnings,
        needs_files: c.needs_files,
        project_files: c.project_files,
        secrets: super::SecretValues {
            values: c.secrets,
            carriers: c.carriers,
        },
    }
}

impl Checker<'_> {
    pub(crate) fn fail(
        &mut self,
        node: &Node,
        path: &str,
        kind: ViolationKind,
        message: impl Into<String>,
    ) {
        let message = self.redact(&message.into());
        self.violations.push(Violation {
            line: node.pos.line,
            column: node.pos.column,
            path: path.to_string(),
            kind,
            message,
        });
    }

    /// Something only the project's own files can provide (a build context, an env file...).
    pub(crate) fn needs(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        let message = self.redact(&message.into());
        self.needs_files.push(Violation {
            line: node.pos.line,
            column: node.pos.column,
            path: path.to_string(),
            kind: ViolationKind::Unsupported,
            message,
        });
    }

    /// A path into the project's folder that a [`Checker::needs`] entry at `path` refers to.
    pub(crate) fn project_file(&mut self, node: &Node, path: &str, usage: FileUse, file: &str) {
        self.project_files.push(ProjectFile {
            line: node.pos.line,
            column: node.pos.column,
            path: path.to_string(),
            usage,
            file: file.to_string(),
        });
    }

    /// A project variable's value (`COMPOSE_PROFILES`).
    pub(crate) fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name)
    }

    /// `text` with the secret values interpolated so far masked.
    fn redact(&self, text: &str) -> String {
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        mask(text, &secrets)
    }

    pub(crate) fn invalid(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.fail(node, path, ViolationKind::Invalid, message);
    }

    pub(crate) fn warn(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        let message = self.redact(&message.into());
        self.warnings.push(Violation {
            line: node.pos.line,
            column: node.pos.column,
            path: path.to_string(),
            kind: ViolationKind::Invalid,
            message,
        });
    }

    /// A scalar's text after interpolation; a violation (and `None`) for lists and maps or a bad
    /// `${...}`.
    pub(crate) fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        let Some(raw) = node.scalar_text() else {
            self.invalid(
                node,
                path,
                format!("expected a single value, found {}", node.kind()),
            );
            return None;
        };
        if !matches!(node.value, Value::String(_)) {
            return Some(raw);
        }
        match interpolate(&raw, self.vars) {
            Ok(i) => {
                if !i.secrets.is_empty() {
                    self.carriers.push(i.text.clone());
                }
                for s in i.secrets {
                    if !self.secrets.contains(&s) {
                        self.secrets.push(s);
                    }
                }
                for name in i.unset {
                    self.warn(
                        node,
                        path,
                        format!("variable {name} is not set; an empty string is used"),
                    );
                }
                Some(i.text)
            }
            Err(e) => {
                self.invalid(node, path, e);
                None
            }
        }
    }

    /// A non-empty string value.
    pub(crate) fn nonempty(&mut self, node: &Node, path: &str) -> Option<String> {
        let t = self.text(node, path)?;
        if t.trim().is_empty() {
            self.invalid(node, path, "must not be empty");
            return None;
        }
        Some(t)
    }

    pub(crate) fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        if let Value::Bool(b) = node.value {
            return Some(b);
        }
        match self.text(node, path)?.as_str() {
            "true" | "True" | "TRUE" | "yes" => Some(true),
            "false" | "False" | "FALSE" | "no" => Some(false),
            other => {
                self.invalid(node, path, format!("{other:?} is not true or false"));
                None
            }
        }
    }

    pub(crate) fn integer(&mut self, node: &Node, path: &str) -> Option<i64> {
        if let Value::Int(i) = node.value {
            return Some(i);
        }
        let t = self.text(node, path)?;
        match t.trim().parse() {
            Ok(i) => Some(i),
            Err(_) => {
                self.invalid(node, path, format!("{t:?} is not a whole number"));
                None
            }
        }
    }

    /// A list of scalars (each interpolated).
    pub(crate) fn list(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        let Some(seq) = node.as_seq() else {
            if matches!(node.value, Value::Null) {
                return Some(Vec::new());
            }
            self.invalid(
                node,
                path,
                format!("expected a list, found {}", node.kind()),
            );
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in seq.iter().enumerate() {
            out.push(self.text(item, &format!("{path}[{i}]"))?);
        }
        Some(out)
    }

    /// Compose's "string or list" (`command`, `entrypoint`, healthcheck `test`).
    pub(crate) fn words(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        match &node.value {
            Value::Seq(_) => self.list(node, path),
            _ => self.text(node, path).map(|t| super::words::split(&t)),
        }
    }

    /// Compose's "map or list of KEY=VALUE" (`environment`, `labels`), as ordered pairs; a map
    /// entry without a value gives `None`.
    pub(crate) fn pairs(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Option<Vec<(String, Option<String>)>> {
        match &node.value {
            Value::Null => Some(Vec::new()),
            Value::Map(entries) => {
                let mut out = Vec::new();
                for (k, v) in entries {
                    let key = k.scalar_text().unwrap_or_default();
                    let value = match v.value {
                        Value::Null => None,
                        _ => Some(self.text(v, &format!("{path}.{key}"))?),
                    };
                    out.push((key, value));
                }
                Some(out)
            }
            Value::Seq(_) => Some(
                self.list(node, path)?
                    .into_iter()
                    .map(|item| match item.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (item, None),
                    })
                    .collect(),
            ),
            _ => {
                self.invalid(
                    node,
                    path,
                    format!("expected a map or a list, found {}", node.kind()),
                );
                None
            }
        }
    }

    /// The entries of a map node, after checking every key: `x-` keys are skipped, keys in
    /// `supported` are returned, keys `refuse` returns a reason for are policy violations, and
    /// every other key is an unsupported-key violation naming it. An empty node is an empty map.
    pub(crate) fn entries<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        supported: &[&str],
        refuse: impl Fn(&str, &Node) -> Option<String>,
    ) -> Vec<(&'n str, &'n Node, &'n Node)> {
        let entries = match &node.value {
            Value::Map(m) => m,
            Value::Null => return Vec::new(),
            _ => {
                self.invalid(node, path, format!("expected a map, found {}", node.kind()));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let Some(key) = k.as_str() else {
                self.invalid(k, path, format!("keys must be strings, found {}", k.kind()));
                continue;
            };
            let kpath = join(path, key);
            if key.starts_with("x-") && key != "x-clubhost" {
                continue;
            }
            if let Some(reason) = refuse(key, v) {
                self.fail(k, &kpath, ViolationKind::Policy, reason);
            } else if supported.contains(&key) {
                out.push((key, k, v));
            } else {
                self.fail(
                    k,
                    &kpath,
                    ViolationKind::Unsupported,
                    format!(
                        "`{key}` is not supported by clubhost; remove it{}",
                        hint(key).map(|h| format!(" ({h})")).unwrap_or_default()
                    ),
                );
            }
        }
        out
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// What to do instead, for keys people often write.
fn hint(key: &str) -> Option<&'static str> {
    Some(match key {
        "external_links" => "services on one project reach each other by service name",
        "scale" | "replicas" => "each service runs once",
        "mem_reservation" | "memswap_limit" | "cpu_shares" | "cpu_quota" | "cpuset" => {
            "use mem_limit, cpus and pids_limit"
        }
        "include" => {
            "it reads other files of the project, which clubhost does not have yet; paste the \
             included services into this file"
        }
        _ => return None,
    })
}

pub(crate) fn duration(c: &mut Checker, v: &Node, p: &str) -> Option<Duration> {
    let t = c.text(v, p)?;
    let d = super::words::parse_duration(&t);
    if d.is_none() {
        c.invalid(
            v,
            p,
            format!("{t:?} is not a duration like \"10s\" or \"1m30s\""),
        );
    }
    d
}

/// Service and volume names become parts of Docker object names and DNS aliases.
pub(crate) fn check_name(c: &mut Checker, node: &Node, path: &str, name: &str) -> bool {
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
