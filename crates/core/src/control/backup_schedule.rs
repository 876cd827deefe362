//! The daily backups `clubhost serve` takes at `[backup] hour` (UTC): every project with data,
//! then an online copy of the registry (`VACUUM INTO`), then `prune`. Runs beside the term
//! scheduler (`scheduler.rs` starts it). A start after the hour with no backup since it catches
//! up at once (a club that never took one waits for the hour); each failed project backup tells the admins (`create_backup` does).
//! Also the backups' Prometheus metrics and the `project show` line.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::backup::internal;
use super::{Control, Result};
use clubhost_registry::clock;

const DAY: i64 = 86_400;
/// The longest sleep; a guard against clock jumps, not a poll.
const MAX_SLEEP_SECS: i64 = 3600;

/// The latest moment at `hour`:00 UTC at or before `now`.
pub(crate) fn last_due(now: i64, hour: u8) -> i64 {
    let today = now.div_euclid(DAY) * DAY + i64::from(hour) * 3600;
    if today <= now { today } else { today - DAY }
}

/// Runs the daily backups until `stop` turns true (only with `[backup] schedule`).
pub(crate) async fn run(control: Arc<Control>, mut stop: watch::Receiver<bool>) {
    // What a backup killed with the previous process left: its partial directory, its helper
    // containers and the pause on the project's services.
    let root = control.config.backup.dir(&control.config.data_dir);
    if root.is_dir()
        && let Err(e) = control.sweep_partials(&root).await
    {
        tracing::warn!(error = %e, "could not sweep interrupted backups");
    }
    if !control.config.backup.schedule {
        return;
    }
    // The round run by this process, so a day with nothing to back up is not run again and again.
    let mut ran: Option<i64> = None;
    // A club that never took a backup starts at the next hour, not the moment it first starts.
    let started = clock::now();
    loop {
        let hour = control.config.backup.hour;
        let now = clock::now();
        let due = last_due(now, hour);
        let newest = control
            .registry
            .backups(None, true)
            .await
            .ok()
            .and_then(|rows| rows.iter().map(|r| r.started_at).max());
        if ran != Some(due) && newest.unwrap_or(started) < due {
            control.scheduled_backups().await;
            ran = Some(due);
            continue;
        }
        let secs = (due + DAY - now).clamp(1, MAX_SLEEP_SECS);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(secs as u64)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

impl Control {
    /// One scheduled round: every project, the registry, then retention.
    async fn scheduled_backups(&self) {
        const ACTOR: &str = "scheduler";
        match self.create_all_backups(ACTOR).await {
            Ok(done) => {
                let failed = done.iter().filter(|(_, r)| r.is_err()).count();
                tracing::info!(projects = done.len(), failed, "scheduled backups done");
            }
            Err(e) => tracing::error!(error = %e, "scheduled backups could not start"),
        }
        if let Err(e) = self.backup_registry().await {
            tracing::error!(error = %e, "registry backup failed");
        }
        if let Err(e) = self.prune_backups(ACTOR).await {
            tracing::error!(error = %e, "backup pruning failed");
        }
    }

    /// Before an expired project is purged: takes its final backup unless one was taken since it
    /// expired. A failure (the admins are told) stops the purge; the scheduler tries again.
    pub(crate) async fn ensure_final_backup(&self, slug: &str, actor: &str) -> Result<()> {
        let p = self.registry.project(slug).await?;
        if p.state() != clubhost_registry::ProjectState::Expired {
            return Ok(());
        }
        let expired_at = self
            .registry
            .audit_log(Some(slug))
            .await?
            .iter()
            .filter(|e| e.action == "project.expired")
            .map(|e| e.at)
            .max()
            .unwrap_or(0);
        let has_final = self
            .registry
            .backups(Some(slug), false)
            .await?
            .iter()
            .any(|b| b.started_at >= expired_at);
        if !has_final {
            self.create_backup(slug, actor).await?;
        }
        Ok(())
    }

    /// Copies the registry online into `<backup dir>/registry/clubhost-<unix time>.db`, keeping
    /// the newest `[backup] keep_daily` copies (at least one).
    pub async fn backup_registry(&self) -> Result<PathBuf> {
        let dir = self.backup_root()?.join("registry");
        crate::files::private_dir(&dir).map_err(internal)?;
        let target = dir.join(format!("clubhost-{}.db", clock::now()));
        self.registry.copy_to(&target).await?;
        let mut copies: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(internal)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "db"))
            .collect();
        // Names hold the time with the same digit count for centuries: sorting by name is by age.
        copies.sort();
        let keep = self.config.backup.keep_daily.max(1);
        let old = copies.len().saturating_sub(keep);
        for p in &copies[..old] {
            let _ = std::fs::remove_file(p);
        }
        Ok(target)
    }

    /// Prometheus text for the backups: the newest complete backup's time and age per project
    /// with data (`+Inf` age for one never backed up).
    pub async fn backup_metrics(&self) -> Result<String> {
        let rows = self.registry.backups(None, false).await?;
        let now = clock::now();
        let mut out = String::from(
            "# HELP clubhost_backup_last_success_timestamp_seconds When the newest complete \
             backup of a project was taken.\n\
             # TYPE clubhost_backup_last_success_timestamp_seconds gauge\n\
             # HELP clubhost_backup_age_seconds Seconds since the newest complete backup of a \
             project (+Inf: none).\n\
             # TYPE clubhost_backup_age_seconds gauge\n",
        );
        for p in self.registry.projects().await? {
            if !super::backup::has_data(&p) {
                continue;
            }
            let newest = rows
                .iter()
                .filter(|r| r.project == p.slug)
                .map(|r| r.started_at)
                .max();
            let slug = &p.slug;
            match newest {
                Some(t) => {
                    out.push_str(&format!(
                        "clubhost_backup_last_success_timestamp_seconds{{project=\"{slug}\"}} {t}\n\
                         clubhost_backup_age_seconds{{project=\"{slug}\"}} {}\n",
                        (now - t).max(0)
                    ));
                }
                None => out.push_str(&format!(
                    "clubhost_backup_age_seconds{{project=\"{slug}\"}} +Inf\n"
                )),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_due_moment_is_todays_hour_once_passed_else_yesterdays() {
        // 2026-12-01T03:00:00Z
        let t0 = 1_796_094_000;
        assert_eq!(last_due(t0, 3), t0);
        assert_eq!(last_due(t0 + 1, 3), t0);
        assert_eq!(last_due(t0 - 1, 3), t0 - DAY);
        assert_eq!(last_due(t0, 4), t0 - 23 * 3600);
        assert_eq!(last_due(t0, 0), t0 - 3 * 3600);
    }
}
