//! Stamps the binary with the git commit it was built from, for `clubhost --version`: the output of
//! `git rev-parse --short=12 HEAD`, or "unknown" when git or the repository is absent (a build from
//! a source tarball or a crate package).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CLUBHOST_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves (a checkout) or its branch gets a commit; in a worktree HEAD lives
    // under the worktree's own git dir, which `--git-path` finds. Only files that exist are named
    // (a missing one would make cargo rerun this on every build).
    let head = git(&["rev-parse", "--git-path", "HEAD"]);
    let branch = git(&["rev-parse", "--symbolic-full-name", "HEAD"])
        .and_then(|r| git(&["rev-parse", "--git-path", &r]));
    for path in [head, branch].into_iter().flatten() {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
