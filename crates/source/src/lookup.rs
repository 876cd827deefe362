//! The project's folder looked at for what a stack file names: the folder the stack file sits in
//! (`stack check FILE`) or a stored revision of the project's files (submit). Each
//! file or folder the stack refers to ([`ProjectFile`]: build contexts, relative binds,
//! `env_file`, secret and config files) is checked there when it exists, and otherwise left as
//! the checker's "needs the project's files" warning, so a file can be judged alone.
//!
//! Checked means: it is what the key needs (a folder with its Dockerfile, a readable env file
//! of `KEY=value` lines, a file for a secret) and it does not lead out of the project's folder
//! through a symbolic link.

use std::path::{Path, PathBuf};

use clubhost_stack::{FileUse, ProjectFile};
use serde::Serialize;

/// What the project's folder says about one referenced path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Line of the value naming it in the stack file.
    pub line: u64,
    /// Column of that value.
    pub column: u64,
    /// Dotted path of the key naming it.
    pub path: String,
    /// The file or folder, as written.
    pub file: String,
    /// Present and fit, absent, or wrong.
    pub verdict: Verdict,
    /// What was found, or what is wrong and what to do.
    pub message: String,
}

/// One referenced path's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Present and fit for its use.
    Found,
    /// Not in the folder: the checker's "needs the project's files" stands.
    Absent,
    /// Present but unusable (or leading outside the folder): a problem, like a violation.
    Wrong,
}

/// Looks up every referenced path in `dir`.
pub fn look(dir: &Path, files: &[ProjectFile]) -> Vec<Finding> {
    let root = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    files
        .iter()
        .map(|f| {
            let (verdict, message) = judge(&root, f);
            Finding {
                line: f.line,
                column: f.column,
                path: f.path.clone(),
                file: f.file.clone(),
                verdict,
                message,
            }
        })
        .collect()
}

fn judge(root: &Path, f: &ProjectFile) -> (Verdict, String) {
    let at = match inside(root, &f.file) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return match f.usage {
                FileUse::EnvFile { required: false } => (
                    Verdict::Found,
                    format!("{:?} is absent and optional (`required: false`)", f.file),
                ),
                _ => (
                    Verdict::Absent,
                    format!("{:?} is not in {}", f.file, root.display()),
                ),
            };
        }
        Err(message) => return (Verdict::Wrong, message),
    };
    match &f.usage {
        FileUse::Bind => {
            let kind = if at.is_dir() { "a folder" } else { "a file" };
            (
                Verdict::Found,
                format!("{:?} is {kind} of the project", f.file),
            )
        }
        FileUse::SecretOrConfig if at.is_file() => (
            Verdict::Found,
            format!("{:?} is a file of the project", f.file),
        ),
        FileUse::SecretOrConfig => (
            Verdict::Wrong,
            format!(
                "{:?} is a folder; a secret or config is read from a file",
                f.file
            ),
        ),
        FileUse::BuildContext { .. } if !at.is_dir() => (
            Verdict::Wrong,
            format!("build context {:?} is not a folder", f.file),
        ),
        FileUse::BuildContext { dockerfile } => {
            let name = dockerfile.as_deref().unwrap_or("Dockerfile");
            let rel = Path::new(&f.file).join(name);
            match inside(root, &rel.to_string_lossy()) {
                Ok(Some(d)) if d.is_file() => (
                    Verdict::Found,
                    format!("build context {:?} has its {name}", f.file),
                ),
                Ok(_) => (
                    Verdict::Wrong,
                    format!(
                        "build context {:?} has no {name}; add it, or name the right one with \
                         `build: {{ context: {}, dockerfile: ... }}`",
                        f.file, f.file
                    ),
                ),
                Err(message) => (Verdict::Wrong, message),
            }
        }
        FileUse::EnvFile { .. } => env_file(&at, &f.file),
    }
}

/// `root`/`rel` when it exists, resolved through symbolic links; an error when it resolves to
/// somewhere outside `root` (a link to the server's files).
fn inside(root: &Path, rel: &str) -> Result<Option<PathBuf>, String> {
    let joined = root.join(rel);
    if std::fs::symlink_metadata(&joined).is_err() {
        return Ok(None);
    }
    match joined.canonicalize() {
        Ok(real) if real.starts_with(root) => Ok(Some(real)),
        Ok(real) => Err(format!(
            "{rel:?} leads outside the project's folder (to {}): it would expose the server's \
             files; put what it needs inside the folder",
            real.display()
        )),
        // A dangling link: there is nothing at the end of it.
        Err(_) => Ok(None),
    }
}

/// An env file as Compose reads it: `KEY=value` or `KEY` lines, `#` comments, blank lines.
fn env_file(at: &Path, name: &str) -> (Verdict, String) {
    let text = match std::fs::read(at) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            return (
                Verdict::Wrong,
                format!("env_file {name:?} cannot be read: {e}"),
            );
        }
    };
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.split_once('=').map_or(line, |(k, _)| k).trim();
        let key = key.strip_prefix("export ").unwrap_or(key).trim();
        if !clubhost_stack::valid_var_name(key) {
            return (
                Verdict::Wrong,
                format!(
                    "env_file {name:?}, line {}: {key:?} is not a variable name; write \
                     KEY=value",
                    i + 1
                ),
            );
        }
        count += 1;
    }
    (
        Verdict::Found,
        format!("env_file {name:?} sets {count} variable(s)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(usage: FileUse, file: &str) -> ProjectFile {
        ProjectFile {
            line: 3,
            column: 7,
            path: "services.web.x".into(),
            usage,
            file: file.into(),
        }
    }

    #[test]
    fn each_use_is_checked_against_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("app")).unwrap();
        std::fs::write(d.join("app/Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::create_dir_all(d.join("bare")).unwrap();
        std::fs::write(d.join(".env"), "# c\nA=1\n\nexport B=two\nC\n").unwrap();
        std::fs::write(d.join("bad.env"), "A=1\nnot a name=2\n").unwrap();
        std::fs::write(d.join("secret.txt"), "s3cret").unwrap();
        std::os::unix::fs::symlink("/etc", d.join("etc")).unwrap();
        let ctx = |dockerfile: Option<&str>| FileUse::BuildContext {
            dockerfile: dockerfile.map(str::to_string),
        };
        let cases = [
            (file(ctx(None), "./app"), Verdict::Found),
            (file(ctx(Some("Other")), "./app"), Verdict::Wrong),
            (file(ctx(None), "bare"), Verdict::Wrong),
            (file(ctx(None), "missing"), Verdict::Absent),
            (file(FileUse::Bind, "./app"), Verdict::Found),
            (file(FileUse::Bind, "./etc"), Verdict::Wrong),
            (file(FileUse::Bind, "./nope.conf"), Verdict::Absent),
            (
                file(FileUse::EnvFile { required: true }, ".env"),
                Verdict::Found,
            ),
            (
                file(FileUse::EnvFile { required: true }, "bad.env"),
                Verdict::Wrong,
            ),
            (
                file(FileUse::EnvFile { required: true }, "x.env"),
                Verdict::Absent,
            ),
            (
                file(FileUse::EnvFile { required: false }, "x.env"),
                Verdict::Found,
            ),
            (file(FileUse::SecretOrConfig, "secret.txt"), Verdict::Found),
            (file(FileUse::SecretOrConfig, "app"), Verdict::Wrong),
        ];
        let (files, verdicts): (Vec<_>, Vec<_>) = cases.into_iter().unzip();
        let found = look(d, &files);
        for ((f, want), got) in files.iter().zip(&verdicts).zip(&found) {
            assert_eq!(got.verdict, *want, "{f:?}: {}", got.message);
        }
        assert!(found[8].message.contains("line 2"), "{}", found[8].message);
        assert!(
            found[7].message.contains("3 variable(s)"),
            "{}",
            found[7].message
        );
        assert!(found[5].message.contains("outside the project's folder"));
    }
}
