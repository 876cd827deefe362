//! What an admin sees at a glance (the portal's dashboard): what waits for an admin, how the
//! projects are doing, the engine's and the data dir's disk use, the host's memory and load, and
//! the last failed deploys with their reasons. One read; nothing here changes anything.

use std::path::Path;

use clubhost_docker::DiskUsage;
use clubhost_registry::{ProjectState, now};

use super::{Control, Result};
use crate::lifecycle::terms::DAY;

/// How far ahead "expiring soon" looks.
pub const EXPIRING_WITHIN_DAYS: i64 = 7;

/// How many failed deploys the overview lists, newest first.
const FAILURES_SHOWN: usize = 5;

/// The dashboard's figures.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Requests waiting for review (`requested`).
    pub requests_waiting: usize,
    /// Renewal requests waiting for a decision.
    pub renewals_waiting: usize,
    /// Projects serving now.
    pub running: usize,
    /// Projects whose last deploy failed.
    pub failed: usize,
    /// Projects whose term ends within [`EXPIRING_WITHIN_DAYS`], soonest first, as (slug, end).
    pub expiring: Vec<(String, i64)>,
    /// The engine's disk use, or why it could not be read (Docker down).
    pub docker: std::result::Result<DiskUsage, String>,
    /// Bytes in `data_dir` (the registry, its key, anything else kept there).
    pub data_dir_bytes: u64,
    /// The host's memory and load, from /proc; `None` where /proc cannot be read.
    pub host: Option<HostStats>,
    /// The last failed deploys, newest first.
    pub failures: Vec<FailedDeploy>,
}

/// The host's memory and CPU load, as /proc tells them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostStats {
    /// `MemTotal`, in bytes.
    pub mem_total: u64,
    /// `MemAvailable` (what can be had without swapping), in bytes.
    pub mem_available: u64,
    /// The load average over the last minute.
    pub load1: f64,
    /// CPUs the kernel lists.
    pub cpus: u32,
}

/// One failed deploy from the audit log.
#[derive(Debug, Clone)]
pub struct FailedDeploy {
    /// The project's slug.
    pub project: String,
    /// When, in Unix seconds.
    pub at: i64,
    /// Why, as the deployer said.
    pub reason: String,
}

impl Control {
    /// The dashboard's figures. Docker being down is a figure (`docker: Err`), not a failure.
    pub async fn overview(&self) -> Result<Overview> {
        let projects = self.registry.projects().await?;
        let count = |s: ProjectState| projects.iter().filter(|p| p.state() == s).count();
        let t = now();
        let mut expiring: Vec<(String, i64)> = projects
            .iter()
            .filter(|p| {
                matches!(
                    p.state(),
                    ProjectState::Running | ProjectState::Failed | ProjectState::Stopped
                ) && !p.permanent
                    && !p.is_root
            })
            .filter_map(|p| Some((p.slug.clone(), p.term_end?)))
            .filter(|(_, end)| *end <= t + EXPIRING_WITHIN_DAYS * DAY)
            .collect();
        expiring.sort_by_key(|(_, end)| *end);
        let failures = self
            .registry
            .audit_filtered(None, None, 500)
            .await?
            .into_iter()
            .filter(|e| e.action == "project.failed" || e.reason.starts_with("redeploy failed"))
            .take(FAILURES_SHOWN)
            .map(|e| FailedDeploy {
                project: e.project.unwrap_or_default(),
                at: e.at,
                reason: e.reason,
            })
            .collect();
        let docker = match self.engine().await {
            Ok(engine) => engine.disk_usage().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let data_dir = self.config.data_dir.clone();
        let data_dir_bytes = tokio::task::spawn_blocking(move || dir_size(&data_dir))
            .await
            .unwrap_or(0);
        Ok(Overview {
            requests_waiting: count(ProjectState::Requested),
            renewals_waiting: self.registry.renewals(false).await?.len(),
            running: count(ProjectState::Running),
            failed: count(ProjectState::Failed),
            expiring,
            docker,
            data_dir_bytes,
            host: host_stats(),
            failures,
        })
    }
}

/// Bytes in the files under `dir`, symbolic links not followed; what cannot be read counts 0.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) if m.is_file() => m.len(),
            _ => 0,
        })
        .sum()
}

fn host_stats() -> Option<HostStats> {
    let read = |p| std::fs::read_to_string(p).ok();
    parse_host(
        &read("/proc/meminfo")?,
        &read("/proc/loadavg")?,
        &read("/proc/stat")?,
    )
}

/// Reads /proc/meminfo, /proc/loadavg and /proc/stat.
fn parse_host(meminfo: &str, loadavg: &str, stat: &str) -> Option<HostStats> {
    let kib = |key: &str| {
        meminfo.lines().find_map(|l| {
            let rest = l.strip_prefix(key)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
    };
    let cpus = stat
        .lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count();
    Some(HostStats {
        mem_total: kib("MemTotal")? * 1024,
        mem_available: kib("MemAvailable")? * 1024,
        load1: loadavg.split_whitespace().next()?.parse().ok()?,
        cpus: u32::try_from(cpus).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc() {
        let meminfo =
            "MemTotal:        8000000 kB\nMemFree:  100 kB\nMemAvailable:    2000000 kB\n";
        let stat = "cpu  1 2 3\ncpu0 1 2 3\ncpu1 1 2 3\nintr 5\n";
        let h = parse_host(meminfo, "0.52 0.40 0.30 1/200 999\n", stat).unwrap();
        assert_eq!(
            h,
            HostStats {
                mem_total: 8_192_000_000,
                mem_available: 2_048_000_000,
                load1: 0.52,
                cpus: 2,
            }
        );
        assert_eq!(parse_host("MemTotal: 1 kB\n", "0.1", stat), None);
        // The real files parse on this machine.
        let real = host_stats().expect("/proc is readable");
        assert!(real.mem_total >= real.mem_available && real.cpus >= 1);
    }

    #[test]
    fn dir_size_adds_up_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 100]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 23]).unwrap();
        assert_eq!(dir_size(dir.path()), 123);
        assert_eq!(dir_size(&dir.path().join("missing")), 0);
    }
}
