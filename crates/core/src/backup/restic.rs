//! Off-site copies: a complete backup's directory copied into a restic repository
//! (`[backup] restic_repository`) by Debian's `restic`, run as a child process. restic encrypts,
//! deduplicates and checks its repository itself; clubhost keeps the snapshot id on the backup's
//! row so `backup list` shows what exists off-site. The repository is created on first use (a
//! `cat config` that fails is followed by `init`). The password is read by restic from the
//! configured file, never passed in arguments; the backend's own credentials (for `s3:` or
//! `sftp:`) come from the server's environment, as restic documents.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

/// Where and how to reach the repository.
#[derive(Debug, Clone)]
pub struct Repository {
    /// `-r`: a path or a restic backend URL.
    pub location: String,
    /// `--password-file`.
    pub password_file: PathBuf,
    /// `--cache-dir`: restic's local cache, under the data dir.
    pub cache_dir: PathBuf,
}

/// No copy runs longer than this (a hung remote): the child is killed.
const TIMEOUT: Duration = Duration::from_secs(6 * 3600);

impl Repository {
    fn command(&self) -> Command {
        let mut c = Command::new("restic");
        c.arg("-r")
            .arg(&self.location)
            .arg("--password-file")
            .arg(&self.password_file)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null());
        c
    }

    /// Runs restic with `args`; its standard output, or what failed.
    async fn run(&self, args: &[&str], dir: Option<&Path>) -> Result<Vec<u8>, String> {
        let mut c = self.command();
        c.args(args);
        if let Some(d) = dir {
            c.current_dir(d);
        }
        let out = tokio::time::timeout(TIMEOUT, c.output())
            .await
            .map_err(|_| format!("restic {} ran past {TIMEOUT:?}", args[0]))?
            .map_err(|e| format!("cannot run restic (is Debian's `restic` installed?): {e}"))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            let said = String::from_utf8_lossy(&out.stderr);
            let said: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
            Err(format!(
                "restic {} failed ({}): {}",
                args[0],
                out.status,
                said[said.len().saturating_sub(3)..].join(" / ")
            ))
        }
    }

    /// Creates the repository if it does not answer yet.
    async fn ensure(&self) -> Result<(), String> {
        if self.run(&["cat", "config"], None).await.is_ok() {
            return Ok(());
        }
        self.run(&["init"], None).await.map(|_| ())
    }

    /// Copies backup directory `dir` (backup `id` of `slug`) into the repository, tagged
    /// `clubhost`, `project=<slug>` and `backup=<id>`; returns the snapshot id.
    pub async fn copy(&self, dir: &Path, slug: &str, id: i64) -> Result<String, String> {
        self.ensure().await?;
        let project = format!("project={slug}");
        let backup = format!("backup={id}");
        // Run from the backup dir with the backup's own folder name, so the snapshot holds
        // `<slug>-<id>/…` and `restic restore` gives back that folder whatever the dir was.
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str()))
        else {
            return Err(format!("{}: not a backup directory", dir.display()));
        };
        let out = self
            .run(
                &[
                    "backup", "--json", "--host", "clubhost", "--tag", "clubhost", "--tag",
                    &project, "--tag", &backup, name,
                ],
                Some(parent),
            )
            .await?;
        snapshot_id(&out).ok_or_else(|| "restic backup printed no snapshot id".to_string())
    }
}

/// The snapshot id from `restic backup --json`'s summary line.
fn snapshot_id(out: &[u8]) -> Option<String> {
    String::from_utf8_lossy(out).lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        (v["message_type"] == "summary")
            .then(|| v["snapshot_id"].as_str().map(str::to_string))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_summary_line_names_the_snapshot() {
        let out = b"{\"message_type\":\"status\",\"percent_done\":0.5}\n\
            {\"message_type\":\"summary\",\"files_new\":3,\"snapshot_id\":\"4f3a9c01\"}\n";
        assert_eq!(super::snapshot_id(out).as_deref(), Some("4f3a9c01"));
        assert_eq!(super::snapshot_id(b"not json\n"), None);
    }
}
