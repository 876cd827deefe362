//! `[backup]`: where project backups are written, when the scheduler takes them, and how many
//! are kept (restic-style retention: the newest backup of each of the last N days, weeks and
//! months that have one), and the optional off-site copy into a restic repository.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[backup]`: backups of every project's registry record and volumes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Where backups are written; default `<data_dir>/backups`. Best on another disk.
    pub dir: Option<PathBuf>,
    /// Whether `clubhost serve` backs every deployed project up once a day (and the registry).
    pub schedule: bool,
    /// The hour of the day (0-23, UTC) the daily backups start.
    pub hour: u8,
    /// Newest backup of each of this many most recent days kept by `backup prune`.
    pub keep_daily: usize,
    /// Newest backup of each of this many most recent ISO weeks kept.
    pub keep_weekly: usize,
    /// Newest backup of each of this many most recent months kept.
    pub keep_monthly: usize,
    /// Days a purged project's backups (its final one at least) are kept after the purge, so
    /// its member can still download their data; `backup prune` removes them after that.
    pub keep_after_purge: u32,
    /// A restic repository (`/mnt/offsite/restic`, `sftp:host:/path`, `s3:…`) every backup is
    /// copied into once complete (Debian's `restic`; created on first use); `None`: no copy.
    pub restic_repository: Option<String>,
    /// The file holding the restic repository's password (required with `restic_repository`).
    pub restic_password_file: Option<PathBuf>,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            dir: None,
            schedule: true,
            hour: 3,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 3,
            keep_after_purge: 90,
            restic_repository: None,
            restic_password_file: None,
        }
    }
}

impl BackupConfig {
    /// The backup directory: `dir`, or `<data_dir>/backups`.
    pub fn dir(&self, data_dir: &Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| data_dir.join("backups"))
    }

    /// Refuses settings that could not work, naming the key.
    pub(super) fn check(&self) -> Result<(), String> {
        if self.hour > 23 {
            return Err(format!(
                "key `backup.hour`: {} is not an hour of the day (0-23, UTC)",
                self.hour
            ));
        }
        if self.keep_daily + self.keep_weekly + self.keep_monthly == 0 {
            return Err(
                "keys `backup.keep_daily`, `keep_weekly`, `keep_monthly`: all zero would make \
                 `backup prune` remove every backup; keep at least one"
                    .into(),
            );
        }
        if self.dir.as_ref().is_some_and(|d| !d.is_absolute()) {
            return Err("key `backup.dir`: must be an absolute path".into());
        }
        match (&self.restic_repository, &self.restic_password_file) {
            (Some(r), _) if r.trim().is_empty() => {
                return Err(
                    "key `backup.restic_repository`: empty; remove it or name a \
                            repository"
                        .into(),
                );
            }
            (Some(_), None) => {
                return Err("key `backup.restic_password_file`: required with \
                            `restic_repository` (the file holding the repository's password)"
                    .into());
            }
            (None, Some(_)) => {
                return Err("key `backup.restic_password_file`: set, but no \
                            `restic_repository` to use it with"
                    .into());
            }
            (_, Some(f)) if !f.is_absolute() => {
                return Err("key `backup.restic_password_file`: must be an absolute path".into());
            }
            _ => {}
        }
        Ok(())
    }
}
