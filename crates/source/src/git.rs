//! A git repository's files at one commit, through `git` run as a child process.
//!
//! Why the `git` program and not gix: gix's releases that build with our toolchain are a large
//! tree of crates to compile and keep current for one clone, while Debian's `git` is on every
//! server we target, gets security updates from the distribution, and as a child process can be
//! stopped at any moment (the `[build] git_timeout`, or the repository growing past
//! `max_compressed`) with a kill, which no in-process library call offers.
//!
//! How it is confined:
//! - transports: only `https` (`GIT_ALLOW_PROTOCOL=https` and `protocol.allow=never` with
//!   `protocol.https.allow=always`), plus `file` when the CLI asks ([`GitSource::allow_local`]):
//!   no ssh, no plain http, no `ext::` helpers, not even through a redirect;
//! - no prompts and no credentials: `GIT_TERMINAL_PROMPT=0`, no askpass, an empty environment
//!   (no `HOME`, no system or global config) so no credential helper or user setting applies;
//! - a bare, shallow clone (`--bare --depth 1 --single-branch --no-tags`): no checkout, so no
//!   hook, filter or submodule ever runs (`core.hooksPath=/dev/null` besides);
//! - the files come out through `git archive` as a tar, which is unpacked with every check of an
//!   uploaded archive ([`crate::archive`]): a symbolic link in the repository is refused the
//!   same way; submodules are not in it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::budget::Budget;
use crate::{Caps, Result, SourceError, io};

/// Where a project's repository is and which branch or tag to take.
#[derive(Debug, Clone)]
pub struct GitSource {
    /// `https://…`; with `allow_local`, also `file://…` or an absolute local path.
    pub url: String,
    /// Branch or tag; `None` takes the repository's default branch.
    pub reference: Option<String>,
    /// Whether `file://` URLs and local paths are accepted: only from the CLI (an admin on the
    /// server), never from the portal.
    pub allow_local: bool,
}

/// The URL as `git` will be given it: `https://…` always, `file://…` (an absolute local path
/// becomes one) only with `allow_local`. Anything else is refused with what is accepted.
pub fn check_git_url(url: &str, allow_local: bool) -> Result<String> {
    let url = url.trim();
    let accepted = if allow_local {
        "https://, file:// or an absolute local path"
    } else {
        "https:// only"
    };
    let bad =
        |why: &str| SourceError::Invalid(format!("git URL {url:?}: {why}; accepted: {accepted}"));
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("contains spaces or control characters"));
    }
    if let Some(rest) = url.strip_prefix("https://") {
        if rest.is_empty() || rest.starts_with('/') || rest.starts_with('-') {
            return Err(bad("names no host"));
        }
        return Ok(url.to_string());
    }
    if !allow_local {
        return Err(bad("not an https:// URL"));
    }
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(bad("a file:// URL needs an absolute path"));
        }
        return Ok(url.to_string());
    }
    if url.starts_with('/') {
        return Ok(format!("file://{url}"));
    }
    Err(bad("not a URL clubhost fetches"))
}

/// A branch or tag name as git accepts it, and never an option.
fn check_reference(r: &str) -> Result<()> {
    let ok = !r.is_empty()
        && !r.starts_with('-')
        && !r.contains("..")
        && r.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'));
    if ok {
        Ok(())
    } else {
        Err(SourceError::Invalid(format!(
            "git ref {r:?}: give a branch or tag name (letters, digits, `.`, `_`, `/`, `-`)"
        )))
    }
}

/// A `git` command with the confinement above.
fn git(allow_local: bool, work: &Path) -> Command {
    let mut cmd = Command::new("git");
    let protocols = if allow_local { "https:file" } else { "https" };
    cmd.env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("LANG", "C")
        .env("GIT_ALLOW_PROTOCOL", protocols)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", work)
        .args([
            "-c",
            "protocol.allow=never",
            "-c",
            "protocol.https.allow=always",
        ])
        .args(["-c", "core.hooksPath=/dev/null", "-c", "credential.helper="])
        .stdin(Stdio::null());
    if allow_local {
        cmd.args(["-c", "protocol.file.allow=always"]);
    }
    cmd
}

/// Runs `cmd` until it ends, `deadline` passes, or `watch` (a folder or file) grows past
/// `max_size` bytes; stdout goes to `out` when given. Its stderr's last lines explain a failure.
fn run(
    mut cmd: Command,
    what: &str,
    work: &Path,
    deadline: Instant,
    watch: &Path,
    max_size: u64,
    out: Option<&Path>,
) -> Result<()> {
    let err_path = work.join(format!("{what}.stderr"));
    let stderr = std::fs::File::create(&err_path).map_err(io("creating git's log file"))?;
    cmd.stderr(stderr);
    match out {
        Some(p) => cmd.stdout(std::fs::File::create(p).map_err(io("creating git's output"))?),
        None => cmd.stdout(Stdio::null()),
    };
    let mut child = cmd.spawn().map_err(|e| {
        SourceError::Git(format!("cannot run git ({e}); install git on the server"))
    })?;
    let mut checked = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(io("waiting for git"))? {
            if status.success() {
                return Ok(());
            }
            let text = std::fs::read_to_string(&err_path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(4).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(SourceError::Git(format!(
                "{what} failed: {}",
                tail.join(" / ")
            )));
        }
        let stop = if Instant::now() >= deadline {
            Some(SourceError::Git(format!(
                "{what} did not finish within [build] git_timeout; stopped"
            )))
        } else if checked.elapsed() >= Duration::from_millis(200) {
            checked = Instant::now();
            (size_of(watch) > max_size).then(|| {
                SourceError::TooLarge(format!(
                    "the repository is larger than {max_size} bytes ({what} stopped); the limit \
                     is [build] max_compressed"
                ))
            })
        } else {
            None
        };
        if let Some(e) = stop {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Bytes under `path` (a file, or a folder's files), not following links.
fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| size_of(&e.path())).sum())
        .unwrap_or(0)
}

/// Clones `source` into `work` (a scratch folder) and unpacks its commit's files into `dest`;
/// returns the commit id.
pub(crate) fn fetch(
    source: &GitSource,
    work: &Path,
    dest: &Path,
    budget: &mut Budget,
    caps: &Caps,
    timeout: Duration,
) -> Result<String> {
    let url = check_git_url(&source.url, source.allow_local)?;
    if let Some(r) = &source.reference {
        check_reference(r)?;
    }
    let deadline = Instant::now() + timeout;
    let repo = work.join("repo.git");
    let mut clone = git(source.allow_local, work);
    clone.args([
        "clone",
        "--bare",
        "--depth",
        "1",
        "--single-branch",
        "--no-tags",
        "--quiet",
    ]);
    if let Some(r) = &source.reference {
        clone.args(["--branch", r]);
    }
    clone.arg("--").arg(&url).arg(&repo);
    run(
        clone,
        "git clone",
        work,
        deadline,
        &repo,
        caps.max_compressed,
        None,
    )?;

    let head = work.join("head");
    let mut rev = git(source.allow_local, work);
    rev.arg("-C")
        .arg(&repo)
        .args(["rev-parse", "--verify", "HEAD^{commit}"]);
    run(
        rev,
        "git rev-parse",
        work,
        deadline,
        &head,
        4096,
        Some(&head),
    )?;
    let commit = std::fs::read_to_string(&head)
        .map_err(io("reading the commit id"))?
        .trim()
        .to_string();

    // The tar `git archive` writes is about the size of the files: bounded like them, plus the
    // tar headers of every entry.
    let tar = work.join("files.tar");
    let tar_cap = caps.max_unpacked + caps.max_files.saturating_mul(1024) + (1 << 20);
    let mut archive = git(source.allow_local, work);
    archive
        .arg("-C")
        .arg(&repo)
        .args(["archive", "--format=tar", "HEAD"]);
    run(
        archive,
        "git archive",
        work,
        deadline,
        &tar,
        tar_cap,
        Some(&tar),
    )?;
    let file = std::fs::File::open(&tar).map_err(io("reading git's archive"))?;
    crate::archive::unpack_tar(file, dest, budget)?;
    Ok(commit)
}
