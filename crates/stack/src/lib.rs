//! Stacks: a project's services, read from a Compose file as members write it, checked against
//! the club's default-deny policy and limits, and normalized into plain data the deployer turns
//! into containers.
//!
//! The pipeline: [`yaml`] (a tree whose nodes keep line and column) → [`check`] walks it with the
//! project's variables ([`interpolate`]) and [`Limits`], refusing what the [`policy`] forbids and
//! every key clubhost does not support → a [`Report`]: the normalized [`Stack`] when nothing is
//! wrong, and every violation with its line, column and reason.
//!
//! Architecture invariant: this module never talks to Docker and never touches the registry; it is
//! a pure function from text (plus variables and limits) to a [`Report`].

#![warn(missing_docs)]

mod checker;
mod context;
mod dotenv;
mod extras;
mod files;
mod interpolate;
mod lifecycle;
mod limits;
mod mounts;
mod policy;
mod ports;
mod project;
mod select;
mod service;
mod spec;
pub mod templates;
mod top;
mod volumes;
mod words;
mod yaml;

use serde::Serialize;

pub use interpolate::{
    Interpolated, MASK, MIN_MASKED, Var, Vars, interpolate, mask, valid_name as valid_var_name,
};
pub use limits::{Limits, ResourceLimits, parse_bytes};
pub use project::{FileKind, ProjectFiles, load_with_files, normalize};
pub use spec::*;
pub use words::parse_duration;

/// What is wrong with one place in a stack file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// 1-based; 0 when the place is not in the file (e.g. a missing `services:`).
    pub line: u64,
    /// 1-based, like `line`; 0 with it.
    pub column: u64,
    /// Dotted path to the key: `services.web.privileged`.
    pub path: String,
    /// Which kind of refusal (or warning) this is.
    pub kind: ViolationKind,
    /// What is wrong, why, and what to do instead.
    pub message: String,
}

/// Why a file is refused: the safety policy, a key clubhost does not support, or a bad value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViolationKind {
    /// Not YAML.
    Syntax,
    /// Valid Compose that the club's safety policy refuses.
    Policy,
    /// A Compose key clubhost does not implement.
    Unsupported,
    /// A value that is wrong (missing image, undeclared volume, bad duration…).
    Invalid,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}, column {}: ", self.line, self.column)?;
        }
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The checker's verdict on one file.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The normalized stack; `None` when there is any violation.
    pub stack: Option<Stack>,
    /// Everything that keeps the file from deploying, in file order.
    pub violations: Vec<Violation>,
    /// Things that deploy but differently from what the file says (ignored `container_name`,
    /// capped limits, unset variables).
    pub warnings: Vec<Violation>,
    /// What only the project's own files can provide (`build:`, relative bind mounts,
    /// `env_file`, secrets/configs from `file:`), each message starting "needs the project's
    /// files". Not violations: the file is judged on everything else. Until projects can bring
    /// their files, [`Report::deployable`] is false and [`load`] refuses the stack with these.
    pub needs_files: Vec<Violation>,
    /// The paths behind `needs_files`, one per referenced file or folder, so a caller that has
    /// the project's folder (`stack check FILE`) can look at them. Always relative to the
    /// folder of the stack file and never climbing out of it (those are violations).
    pub project_files: Vec<ProjectFile>,
    /// Secret values the file interpolated: what [`Report::redacted`] masks. Never serialized.
    #[serde(skip)]
    secrets: SecretValues,
}

/// Secret values a check interpolated, and the texts they were interpolated into (the only
/// texts masking may touch). Its `Debug` shows only how many, so a report printed with `{:?}`
/// (a log line, a failed test) never carries them.
#[derive(Clone, Default)]
pub(crate) struct SecretValues {
    pub(crate) values: Vec<String>,
    pub(crate) carriers: Vec<String>,
}

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} secret value(s)", self.values.len())
    }
}

impl SecretValues {
    /// `text` (a field of the stack) with the secret values masked if it came from a text a
    /// secret was interpolated into: that text, one of its words (a command), or `KEY=` and it.
    /// Any other text is the file's own and shown as written, even where it contains a secret's
    /// value.
    fn mask(&self, text: &str) -> String {
        let value = text.split_once('=').map_or(text, |(_, v)| v);
        let carried = |t: &str| {
            self.carriers
                .iter()
                .any(|c| c == t || words::split(c).iter().any(|w| w == t))
        };
        if !carried(text) && !carried(value) {
            return text.to_string();
        }
        let secrets: Vec<&str> = self.values.iter().map(String::as_str).collect();
        interpolate::mask(text, &secrets)
    }
}

impl Report {
    /// Whether the file passed the check (it may still need the project's files).
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty() && self.stack.is_some()
    }

    /// Whether the stack can be deployed as it is: checked, and needing no project files.
    pub fn deployable(&self) -> bool {
        self.is_ok() && self.needs_files.is_empty()
    }

    /// The report as submit and deploy must see it for a stack submitted without its files:
    /// needing the project's files is a refusal (with those reasons).
    pub fn requiring_files(mut self) -> Report {
        if !self.needs_files.is_empty() {
            self.violations.extend(self.needs_files.iter().cloned());
            self.violations.sort_by_key(|v| (v.line, v.column));
            self.stack = None;
        }
        self
    }

    /// The report as it may be shown: the secret values the file interpolated masked in the
    /// stack (messages are masked already). `vars` is kept for callers; the values come from the
    /// check itself, so a secret the file never uses cannot star out the file's own text.
    pub fn redacted(&self, _vars: &Vars) -> Report {
        Report {
            stack: self
                .stack
                .as_ref()
                .map(|s| s.masked_with(&|t: &str| self.secrets.mask(t))),
            violations: self.violations.clone(),
            warnings: self.warnings.clone(),
            needs_files: self.needs_files.clone(),
            project_files: self
                .project_files
                .iter()
                .map(|f| ProjectFile {
                    file: self.secrets.mask(&f.file),
                    ..f.clone()
                })
                .collect(),
            secrets: SecretValues::default(),
        }
    }
}

/// A file or folder of the project that a stack file refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectFile {
    /// Line of the value that names it in the stack file, from 1.
    pub line: u64,
    /// Column of that value, from 1.
    pub column: u64,
    /// Dotted path of the key that names it (`services.web.env_file[0]`).
    pub path: String,
    /// What the stack uses it for, which says what it must be (a folder with a Dockerfile, an env
    /// file, a secret's file).
    pub usage: FileUse,
    /// As written, relative to the stack file's folder.
    pub file: String,
}

/// What a stack file uses one of the project's files for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileUse {
    /// `build:`'s context folder, and the Dockerfile in it (`Dockerfile` unless named).
    BuildContext {
        /// `build.dockerfile` as written, relative to the context.
        dockerfile: Option<String>,
    },
    /// A relative bind mount's source, a file or a folder.
    Bind,
    /// `env_file:`; a missing one is fine when not `required`.
    EnvFile {
        /// Compose's `required:` (true unless the file says otherwise).
        required: bool,
    },
    /// A top-level secret's or config's `file:`.
    SecretOrConfig,
}

/// A stack file that cannot be deployed: every violation, in file order.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct StackError {
    pub(crate) violations: Vec<Violation>,
}

/// Checks a stack file with the project's variables against the policy and limits. The one
/// checker behind `clubhost stack check`, the portal, submit and approve.
pub fn check(source: &str, vars: &Vars, limits: &Limits) -> Report {
    checker::run(source, vars, limits, top::stack)
}

/// Checks and normalizes for submit and deploy of a stack that came without the project's files;
/// every violation becomes part of the error, and so does every need for the project's files
/// (see [`Report::requiring_files`]). With the files, [`load_with_files`].
pub fn load(source: &str, vars: &Vars, limits: &Limits) -> Result<Stack, StackError> {
    let report = check(source, vars, limits).requiring_files();
    match report.stack {
        Some(stack) if report.violations.is_empty() => Ok(stack),
        _ => Err(StackError {
            violations: report.violations,
        }),
    }
}

/// Parses and normalizes a stack file with no variables and the default limits.
pub fn parse(source: &str) -> Result<Stack, StackError> {
    load(source, &Vars::new(), &Limits::default())
}

#[cfg(test)]
mod accept_tests;
#[cfg(test)]
mod files_tests;
#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod tests;
