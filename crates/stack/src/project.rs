//! A stack loaded *with* the project's files: what `check` recorded as needing them (build
//! contexts, relative binds, env files, file secrets) is looked up through [`ProjectFiles`],
//! which the caller implements over the project's folder. This module does no I/O itself.

use super::interpolate::Vars;
use super::limits::Limits;
use super::{FileUse, SecretSource, Stack, StackError, Violation, ViolationKind};

/// What is at a path of the project's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A folder.
    Folder,
    /// Something clubhost does not deliver (a symlink, a device, a socket).
    Other,
}

/// The project's files, as the stack file's folder sees them. Paths are [`normalize`]d, relative
/// to that folder and never climb out of it.
pub trait ProjectFiles {
    /// What is at `path`; `None` when nothing is.
    fn kind(&self, path: &str) -> Option<FileKind>;
    /// The content of the file at `path`, or why it cannot be read.
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
}

/// A relative path without `.` parts, doubled or trailing slashes, and with `..` resolved
/// (`./conf//a/../b/` → `conf/b`); `.` for the folder itself. The checker refuses paths that
/// climb out before they get here; one that would is clamped at the folder.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

fn join(dir: &str, file: &str) -> String {
    normalize(&format!("{dir}/{file}"))
}

/// Checks and normalizes a stack that came with the project's files: every violation of
/// [`super::check`], plus every referenced file that is missing or of the wrong kind (with the
/// line and key that names it), is part of the error. On success the stack carries what the
/// deployer needs: env files merged into `environment` (the file's own `environment:` wins),
/// file secrets' contents, which binds are folders, and writable folders as project volumes.
pub fn load_with_files(
    source: &str,
    vars: &Vars,
    limits: &Limits,
    files: &dyn ProjectFiles,
) -> Result<Stack, StackError> {
    let report = super::check(source, vars, limits);
    let mut stack = match report.stack {
        Some(stack) if report.violations.is_empty() => stack,
        _ => {
            return Err(StackError {
                violations: report.violations,
            });
        }
    };
    let mut violations = Vec::new();
    let mut fail = |line: u64, column: u64, path: &str, message: String| {
        violations.push(Violation {
            line,
            column,
            path: path.to_string(),
            kind: ViolationKind::Invalid,
            message,
        })
    };
    for f in &report.project_files {
        let file = normalize(&f.file);
        let found = files.kind(&file);
        let (wanted, what) = match &f.usage {
            FileUse::BuildContext { .. } => (FileKind::Folder, "a folder (the build context)"),
            FileUse::Bind => (found.unwrap_or(FileKind::File), "a file or a folder"),
            FileUse::EnvFile { required: false } if found.is_none() => continue,
            FileUse::EnvFile { .. } => (FileKind::File, "a file (an env file)"),
            FileUse::SecretOrConfig => (FileKind::File, "a file"),
        };
        match found {
            None => fail(
                f.line,
                f.column,
                &f.path,
                format!(
                    "{:?} is not in the project's files; it must be {what}",
                    f.file
                ),
            ),
            Some(FileKind::Other) => fail(
                f.line,
                f.column,
                &f.path,
                format!(
                    "{:?} is a symlink or a special file: clubhost delivers only plain files \
                     and folders",
                    f.file
                ),
            ),
            Some(k) if k != wanted => fail(
                f.line,
                f.column,
                &f.path,
                format!("{:?} must be {what}", f.file),
            ),
            Some(_) => {
                if let FileUse::BuildContext {
                    dockerfile: Some(d),
                } = &f.usage
                {
                    let df = join(&file, d);
                    if files.kind(&df) != Some(FileKind::File) {
                        fail(
                            f.line,
                            f.column,
                            &f.path,
                            format!("the build context {:?} has no Dockerfile {d:?}", f.file),
                        );
                    }
                }
            }
        }
    }
    let mut volumes = Vec::new();
    for svc in &mut stack.services {
        for m in &mut svc.files {
            m.folder = files.kind(&m.source) == Some(FileKind::Folder);
            if m.folder && !m.read_only {
                // The same folder mounted by two services is one volume, as a bind would be.
                let name = format!("files-{}", super::volumes::safe_name(&m.source));
                let name = if name == "files-" {
                    "files-root".to_string()
                } else {
                    name
                };
                svc.mounts.push(super::VolumeMount {
                    volume: name.clone(),
                    target: m.target.clone(),
                    read_only: false,
                    nocopy: true,
                });
                m.volume = Some(name.clone());
                volumes.push(name);
            }
        }
        let mut from_files: Vec<(String, String)> = Vec::new();
        for r in &svc.env_files {
            let file = normalize(&r.file);
            // Missing or special files were reported above, with their line.
            if files.kind(&file) != Some(FileKind::File) {
                continue;
            }
            let text = match files.read(&file).map(String::from_utf8) {
                Ok(Ok(t)) => t,
                Ok(Err(_)) => {
                    fail(
                        r.line,
                        r.column,
                        &r.path,
                        format!("{:?} is not UTF-8 text", r.file),
                    );
                    continue;
                }
                Err(e) => {
                    fail(r.line, r.column, &r.path, format!("{:?}: {e}", r.file));
                    continue;
                }
            };
            match super::dotenv::parse(&text, vars) {
                Ok(pairs) => {
                    for (k, v) in pairs {
                        from_files.retain(|(fk, _)| *fk != k);
                        from_files.push((k, v));
                    }
                }
                Err((line, e)) => fail(
                    r.line,
                    r.column,
                    &r.path,
                    format!("{}, line {line}: {e}", r.file),
                ),
            }
        }
        if !from_files.is_empty() {
            let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
            let own: Vec<String> = svc.environment.iter().map(|e| key(e)).collect();
            let mut env: Vec<String> = from_files
                .into_iter()
                .filter(|(k, _)| !own.contains(k))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            env.append(&mut svc.environment);
            svc.environment = env;
        }
        for s in &mut svc.secrets {
            if let SecretSource::File(file) = &s.source {
                match files.read(file) {
                    Ok(content) => s.content = content,
                    // Missing files were reported above with their line.
                    Err(e) if files.kind(file).is_some() => fail(
                        0,
                        0,
                        &format!("{:?}.{}", s.kind, s.name),
                        format!("{file:?}: {e}"),
                    ),
                    Err(_) => {}
                }
            }
        }
    }
    for v in volumes {
        if !stack.volumes.contains(&v) {
            stack.volumes.push(v);
        }
    }
    if violations.is_empty() {
        Ok(stack)
    } else {
        violations.sort_by_key(|v| (v.line, v.column));
        Err(StackError { violations })
    }
}
