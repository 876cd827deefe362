//! Stacks: a project's services, read from a compose-compatible YAML file and normalized into plain
//! data that the deployer turns into containers.
//!
//! Architecture invariant: this module never talks to Docker and never touches the registry; it is
//! a pure function from text to [`Stack`] or to an error that says what is wrong and where.

mod compose;

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;

use compose::{ComposeFile, Environment, StringOrList};

/// A stack file that cannot be deployed, with where the problem is.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{message}", location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
pub struct StackError {
    /// A dotted path to the field (`services.web.depends_on`) and, when known, its line.
    pub location: Option<String>,
    pub message: String,
}

impl StackError {
    fn at(source: &str, path: &str, message: impl Into<String>) -> StackError {
        let location = match line_of(source, path) {
            Some(line) => format!("{path} (line {line})"),
            None => path.to_string(),
        };
        StackError {
            location: Some(location),
            message: message.into(),
        }
    }
}

/// The normalized stack: everything the deployer needs, nothing it must interpret.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stack {
    /// In start order: every service comes after the services it depends on.
    pub services: Vec<ServiceSpec>,
    /// Named volumes (without the `clubhost-<slug>-` prefix the deployer adds).
    pub volumes: Vec<String>,
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
    pub depends_on: Vec<String>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: RestartPolicy,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VolumeMount {
    pub volume: String,
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Healthcheck {
    /// Docker's form: `["CMD", ...]` or `["CMD-SHELL", "..."]`.
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
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
}

/// Parses and normalizes a stack file.
pub fn parse(source: &str) -> Result<Stack, StackError> {
    let file: ComposeFile = serde_saphyr::from_str(source).map_err(|e| StackError {
        location: None,
        message: friendly_yaml_error(&e.to_string()),
    })?;
    normalize(file, source)
}

/// serde's "unknown field" message lists every supported key; add what to do about it.
fn friendly_yaml_error(message: &str) -> String {
    if message.contains("unknown field") {
        format!(
            "{message}\n(clubhost supports only the compose keys it can run safely; remove this \
             key or ask an admin)"
        )
    } else {
        message.to_string()
    }
}

fn normalize(file: ComposeFile, source: &str) -> Result<Stack, StackError> {
    if file.services.is_empty() {
        return Err(StackError::at(
            source,
            "services",
            "a stack needs at least one service",
        ));
    }
    let mut volumes = Vec::new();
    for (name, def) in &file.volumes {
        check_name(source, &format!("volumes.{name}"), name)?;
        if let Some(driver) = def.as_ref().and_then(|d| d.driver.as_deref())
            && driver != "local"
        {
            return Err(StackError::at(
                source,
                &format!("volumes.{name}.driver"),
                format!("volume driver {driver:?} is not supported; use the default local driver"),
            ));
        }
        volumes.push(name.clone());
    }

    let mut services = Vec::new();
    for (name, svc) in &file.services {
        let path = format!("services.{name}");
        check_name(source, &path, name)?;
        let image = svc
            .image
            .clone()
            .filter(|i| !i.trim().is_empty())
            .ok_or_else(|| StackError::at(source, &path, "`image` is required"))?;
        let environment = match &svc.environment {
            None => Vec::new(),
            Some(Environment::List(list)) => list.clone(),
            Some(Environment::Map(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}={}", v.to_text()),
                    None => k.clone(),
                })
                .collect(),
        };
        let mut mounts = Vec::new();
        for spec in &svc.volumes {
            mounts.push(parse_mount(
                source,
                &format!("{path}.volumes"),
                spec,
                &volumes,
            )?);
        }
        for dep in &svc.depends_on {
            if !file.services.contains_key(dep) {
                return Err(StackError::at(
                    source,
                    &format!("{path}.depends_on"),
                    format!("depends on {dep:?}, which is not a service of this stack"),
                ));
            }
        }
        let healthcheck = match &svc.healthcheck {
            Some(h) if !h.disable => Some(parse_healthcheck(source, &path, h)?),
            _ => None,
        };
        let restart = parse_restart(source, &path, svc.restart.as_deref())?;
        services.push(ServiceSpec {
            name: name.clone(),
            image,
            command: svc.command.as_ref().map(words),
            entrypoint: svc.entrypoint.as_ref().map(words),
            environment,
            mounts,
            depends_on: svc.depends_on.clone(),
            healthcheck,
            restart,
        });
    }

    let expose = match &file.x_clubhost {
        Some(x) => {
            if !file.services.contains_key(&x.expose) {
                return Err(StackError::at(
                    source,
                    "x-clubhost.expose",
                    format!("{:?} is not a service of this stack", x.expose),
                ));
            }
            if x.port == 0 {
                return Err(StackError::at(
                    source,
                    "x-clubhost.port",
                    "port must be 1-65535",
                ));
            }
            Expose {
                service: x.expose.clone(),
                port: x.port,
            }
        }
        None if file.services.len() == 1 => Expose {
            service: services[0].name.clone(),
            port: 80,
        },
        None => {
            return Err(StackError {
                location: Some("x-clubhost".into()),
                message: "a stack with several services must say which one visitors reach: \
                          add `x-clubhost: { expose: <service>, port: <port> }`"
                    .into(),
            });
        }
    };

    Ok(Stack {
        services: start_order(source, services)?,
        volumes,
        expose,
    })
}

/// Service and volume names become parts of Docker object names and DNS aliases.
fn check_name(source: &str, path: &str, name: &str) -> Result<(), StackError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(StackError::at(
            source,
            path,
            format!("name {name:?} must be lowercase letters, digits, '-' or '_' (at most 63)"),
        ))
    }
}

/// Short volume syntax `name:/path[:ro|:rw]`. Anything that is not a declared named volume is
/// refused: host paths would let a member reach the server's files.
fn parse_mount(
    source: &str,
    path: &str,
    spec: &str,
    volumes: &[String],
) -> Result<VolumeMount, StackError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (name, target, mode) = match parts.as_slice() {
        [name, target] => (*name, *target, None),
        [name, target, mode] => (*name, *target, Some(*mode)),
        _ => {
            return Err(StackError::at(
                source,
                path,
                format!("{spec:?}: use `<named volume>:/path/in/container[:ro]`"),
            ));
        }
    };
    if name.starts_with(['/', '.', '~']) || name.contains('/') {
        return Err(StackError::at(
            source,
            path,
            format!("{spec:?}: host paths (bind mounts) are not allowed; declare a named volume"),
        ));
    }
    if !volumes.iter().any(|v| v == name) {
        return Err(StackError::at(
            source,
            path,
            format!("{spec:?}: volume {name:?} is not declared under the top-level `volumes:`"),
        ));
    }
    if !target.starts_with('/') {
        return Err(StackError::at(
            source,
            path,
            format!("{spec:?}: the container path must be absolute"),
        ));
    }
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(other) => {
            return Err(StackError::at(
                source,
                path,
                format!("{spec:?}: mode {other:?} is not supported (use ro or rw)"),
            ));
        }
    };
    Ok(VolumeMount {
        volume: name.to_string(),
        target: target.to_string(),
        read_only,
    })
}

fn parse_healthcheck(
    source: &str,
    path: &str,
    h: &compose::Healthcheck,
) -> Result<Healthcheck, StackError> {
    let hpath = format!("{path}.healthcheck");
    let test = match &h.test {
        Some(StringOrList::String(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
        Some(StringOrList::List(l))
            if matches!(l.first().map(String::as_str), Some("CMD" | "CMD-SHELL")) =>
        {
            l.clone()
        }
        _ => {
            return Err(StackError::at(
                source,
                &hpath,
                "`test` must be a command string or a list starting with CMD or CMD-SHELL",
            ));
        }
    };
    let dur = |field: &str, v: &Option<String>, default: u64| -> Result<Duration, StackError> {
        match v {
            None => Ok(Duration::from_secs(default)),
            Some(text) => parse_duration(text).ok_or_else(|| {
                StackError::at(
                    source,
                    &format!("{hpath}.{field}"),
                    format!("{text:?} is not a duration like \"10s\" or \"1m30s\""),
                )
            }),
        }
    };
    Ok(Healthcheck {
        test,
        interval: dur("interval", &h.interval, 30)?,
        timeout: dur("timeout", &h.timeout, 30)?,
        retries: h.retries.unwrap_or(3),
        start_period: dur("start_period", &h.start_period, 0)?,
    })
}

/// Compose durations: `1m30s`, `10s`, `500ms`, `1h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

fn parse_restart(source: &str, path: &str, v: Option<&str>) -> Result<RestartPolicy, StackError> {
    Ok(match v {
        None | Some("no") => RestartPolicy::No,
        Some("always") => RestartPolicy::Always,
        Some("unless-stopped") => RestartPolicy::UnlessStopped,
        Some("on-failure") => RestartPolicy::OnFailure(0),
        Some(other) => match other.strip_prefix("on-failure:").map(str::parse) {
            Some(Ok(n)) => RestartPolicy::OnFailure(n),
            _ => {
                return Err(StackError::at(
                    source,
                    &format!("{path}.restart"),
                    format!(
                        "{other:?} is not a restart policy (no, always, unless-stopped, on-failure[:N])"
                    ),
                ));
            }
        },
    })
}

/// Compose's string form of `command`/`entrypoint` is split like a shell would, without running
/// one: whitespace separates words, quotes group them, a backslash escapes the next character.
fn words(c: &StringOrList) -> Vec<String> {
    let s = match c {
        StringOrList::List(l) => return l.clone(),
        StringOrList::String(s) => s,
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(next) = chars.next() {
                    cur.push(next);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(ch);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Orders services so each comes after its dependencies; a cycle is an error naming it.
fn start_order(source: &str, services: Vec<ServiceSpec>) -> Result<Vec<ServiceSpec>, StackError> {
    let mut placed: HashSet<String> = HashSet::new();
    let mut remaining = services;
    let mut ordered = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let before = remaining.len();
        let mut i = 0;
        while i < remaining.len() {
            if remaining[i].depends_on.iter().all(|d| placed.contains(d)) {
                let s = remaining.remove(i);
                placed.insert(s.name.clone());
                ordered.push(s);
            } else {
                i += 1;
            }
        }
        if remaining.len() == before {
            let names: Vec<_> = remaining.iter().map(|s| s.name.as_str()).collect();
            return Err(StackError::at(
                source,
                &format!("services.{}.depends_on", names[0]),
                format!("depends_on forms a cycle among {}", names.join(", ")),
            ));
        }
    }
    Ok(ordered)
}

/// Finds the line of a dotted path like `services.web.depends_on` by walking the keys down the
/// file's indentation. Good enough for messages; `None` when the path can't be followed.
fn line_of(source: &str, path: &str) -> Option<usize> {
    let mut keys = path.split('.');
    let mut want = keys.next()?;
    let mut min_indent = 0usize;
    let mut found = None;
    for (i, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if found.is_some() && indent < min_indent {
            break; // left the parent block
        }
        let key = trimmed
            .trim_start_matches("- ")
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(['"', '\'']);
        if indent >= min_indent && key == want {
            found = Some(i + 1);
            min_indent = indent + 1;
            match keys.next() {
                Some(k) => want = k,
                None => return found,
            }
        }
    }
    found
}

#[cfg(test)]
mod tests;
