//! The stack checker against real Compose files (`tests/compose/*.yml`, origins in the README
//! there), and a seeded random run that the checker and interpolator never panic. Pure: no Docker.
//!
//! Each corpus file starts with a header of comment lines:
//! - `# expect: ok`: loads with no violation and needs none of the project's files;
//! - `# expect: needs-files <words>`: passes the check, but needs the project's files (a
//!   reason containing <words>): refused without them, loaded with them (`load_with_files`);
//! - `# expect: policy <words>`: refused, with a policy violation containing <words>;
//! - `# expect: refused <words>`: refused, with a violation of any kind containing <words>;
//! - `# also: <words>`: another reason the file is refused (one line each);
//! - `# warns: <words>`: a warning that must be given (one line each);
//! - `# vars: K=V K2=V2`: the project variables.
//!
//! Every violation must match one of the file's reasons, so a new refusal cannot hide behind an
//! expected one.

use std::path::{Path, PathBuf};

use clubhost_stack::{self as stack, Limits, Report, Vars, ViolationKind};

fn corpus() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compose");
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    files.sort();
    files
}

/// What a file's header says.
#[derive(Default)]
struct Expect {
    ok: bool,
    needs: Option<String>,
    /// (words, must be a policy violation)
    reasons: Vec<(String, bool)>,
    warns: Vec<String>,
    vars: Vars,
}

fn header(name: &str, text: &str) -> Expect {
    let mut e = Expect::default();
    let mut lines = text.lines().take_while(|l| l.starts_with('#'));
    let first = lines
        .next()
        .and_then(|l| l.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("{name}: first line must be `# expect: ...`"));
    if first == "ok" {
        e.ok = true;
    } else if let Some(w) = first.strip_prefix("needs-files ") {
        e.ok = true;
        e.needs = Some(w.to_string());
    } else if let Some(w) = first.strip_prefix("policy ") {
        e.reasons.push((w.to_string(), true));
    } else if let Some(w) = first.strip_prefix("refused ") {
        e.reasons.push((w.to_string(), false));
    } else {
        panic!("{name}: unknown expectation {first:?}");
    }
    for l in lines {
        if let Some(w) = l.strip_prefix("# also: ") {
            e.reasons.push((w.to_string(), false));
        } else if let Some(w) = l.strip_prefix("# warns: ") {
            e.warns.push(w.to_string());
        } else if let Some(list) = l.strip_prefix("# vars: ") {
            for kv in list.split_whitespace() {
                let (k, v) = kv.split_once('=').unwrap();
                e.vars.set(k, v, false);
            }
        }
    }
    e
}

/// The project's files a report names, all present: build contexts (with their Dockerfile) as
/// folders, env files and secrets as empty files, binds as files when they look like one.
struct Present {
    folders: Vec<String>,
    files: Vec<String>,
}

impl Present {
    fn from(report: &Report) -> Present {
        let mut p = Present {
            folders: Vec::new(),
            files: Vec::new(),
        };
        for f in &report.project_files {
            let path = stack::normalize(&f.file);
            match &f.usage {
                stack::FileUse::BuildContext { dockerfile } => {
                    let d = dockerfile.clone().unwrap_or_else(|| "Dockerfile".into());
                    p.files.push(stack::normalize(&format!("{path}/{d}")));
                    p.folders.push(path);
                }
                stack::FileUse::Bind
                    if path == "." || !path.rsplit('/').next().unwrap().contains('.') =>
                {
                    p.folders.push(path)
                }
                _ => p.files.push(path),
            }
        }
        p
    }
}

impl stack::ProjectFiles for Present {
    fn kind(&self, path: &str) -> Option<stack::FileKind> {
        if self.files.iter().any(|f| f == path) {
            Some(stack::FileKind::File)
        } else if self.folders.iter().any(|f| f == path) {
            Some(stack::FileKind::Folder)
        } else {
            None
        }
    }
    fn read(&self, _: &str) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }
}

/// Checks one file against its header; returns whether it was accepted, or what is wrong.
fn verdict(name: &str, text: &str) -> Result<bool, String> {
    macro_rules! ensure {
        ($cond:expr, $($fmt:tt)*) => {
            if !$cond {
                return Err(format!($($fmt)*));
            }
        };
    }
    let e = header(name, text);
    let report: Report = stack::check(text, &e.vars, &Limits::default());
    for w in &e.warns {
        ensure!(
            report
                .warnings
                .iter()
                .any(|x| x.message.contains(w.as_str())),
            "{name}: no warning mentions {w:?}: {:#?}",
            report.warnings
        );
    }
    if e.ok {
        ensure!(report.is_ok(), "{name}: {:#?}", report.violations);
        match &e.needs {
            None => ensure!(
                report.deployable(),
                "{name}: needs files: {:#?}",
                report.needs_files
            ),
            Some(w) => {
                ensure!(
                    !report.deployable()
                        && report
                            .needs_files
                            .iter()
                            .any(|v| v.message.contains(w.as_str())),
                    "{name}: no need for files mentions {w:?}: {:#?}",
                    report.needs_files
                );
                // With the project's files it loads.
                let files = Present::from(&report);
                let loaded = stack::load_with_files(text, &e.vars, &Limits::default(), &files);
                ensure!(
                    loaded.is_ok(),
                    "{name}: with its files: {}",
                    loaded.unwrap_err()
                );
            }
        }
        return Ok(true);
    }
    ensure!(report.stack.is_none(), "{name}: refused file gave a stack");
    for v in &report.violations {
        ensure!(v.line > 0 && v.column > 0, "{name}: no position: {v}");
        ensure!(
            e.reasons
                .iter()
                .any(|(w, _)| v.message.contains(w.as_str())),
            "{name}: unexpected refusal: {v}"
        );
    }
    for (w, policy) in &e.reasons {
        ensure!(
            report
                .violations
                .iter()
                .any(|v| v.message.contains(w.as_str())
                    && (!policy || v.kind == ViolationKind::Policy)),
            "{name}: no {}violation mentions {w:?}: {:#?}",
            if *policy { "policy " } else { "" },
            report.violations
        );
    }
    Ok(false)
}

#[test]
fn every_corpus_file_gets_its_verdict_and_reasons() {
    let files = corpus();
    assert!(files.len() >= 60, "only {} corpus files", files.len());
    let mut accepted = 0;
    let mut wrong = Vec::new();
    for (path, text) in &files {
        let name = path.file_name().unwrap().to_string_lossy();
        match verdict(&name, text) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(e) => wrong.push(e),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    let refused = files.len() - accepted;
    assert!(refused >= 5, "the corpus should exercise the policy");
    eprintln!("{accepted} accepted, {refused} refused");
}
