//! Resource use of managed containers for the admin's project list: health, memory and CPU from
//! Docker's stats.
//!
//! Stats are read one-shot (no second-long wait inside the engine). A one-shot sample carries no
//! previous CPU reading (`precpu_stats` is empty), so CPU use is computed between two one-shot
//! samples taken [`CPU_INTERVAL`] apart, with the formula `docker stats` uses between a sample
//! and its predecessor ([`cpu_percent`]). All containers are sampled at once, so a page waits one
//! interval whatever the number of containers.

use std::time::Duration;

use bollard::models::{ContainerCpuStats, ContainerStatsResponse};
use bollard::query_parameters::StatsOptionsBuilder;
use futures_util::StreamExt;

use super::{ContainerStatus, Engine, ManagedContainer};

/// Time between the two samples CPU use is computed from.
pub(crate) const CPU_INTERVAL: Duration = Duration::from_millis(500);

/// How long one stats read may take before it is given up (the value is then unknown).
const READ_LIMIT: Duration = Duration::from_secs(2);

/// A container's health, memory and CPU use right now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContainerUsage {
    pub(crate) name: String,
    /// Stack service the container runs.
    pub service: String,
    /// `running`, `healthy`, `unhealthy`, `starting`, `exited(<code>)` or `unknown`.
    pub status: String,
    /// Memory in use in bytes, when Docker reports it.
    pub memory_bytes: Option<u64>,
    /// The container's memory limit in bytes, when Docker reports it.
    pub memory_limit: Option<u64>,
    /// CPU use in percent of one core, as `docker stats` shows it (200 = two cores busy); None
    /// when Docker gave no two readings to compare (a stopped container).
    pub cpu_percent: Option<f64>,
}

/// The CPU counters of one sample, as the CPU formula needs them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CpuSample {
    /// Nanoseconds of CPU the container used since it started.
    pub(crate) total: u64,
    /// Nanoseconds of CPU the whole host used since it booted (all cores).
    pub(crate) system: u64,
    /// Cores online (0 when Docker did not say; then the per-core list length counts).
    pub(crate) cpus: u32,
}

impl CpuSample {
    fn of(stats: &ContainerCpuStats) -> Option<CpuSample> {
        let usage = stats.cpu_usage.as_ref()?;
        let cpus = match stats.online_cpus {
            Some(n) if n > 0 => n,
            _ => usage.percpu_usage.as_ref().map_or(0, |p| p.len() as u32),
        };
        Some(CpuSample {
            total: usage.total_usage?,
            system: stats.system_cpu_usage?,
            cpus,
        })
    }
}

/// CPU use between two samples, as `docker stats` computes it: the container's CPU time over the
/// host's, times the number of cores, in percent. None when the host's counter did not move (no
/// earlier reading, or the same one twice).
pub(crate) fn cpu_percent(before: CpuSample, now: CpuSample) -> Option<f64> {
    let system = now.system.checked_sub(before.system)?;
    if system == 0 || before.system == 0 {
        return None;
    }
    let cpus = if now.cpus > 0 { now.cpus } else { 1 };
    let used = now.total.saturating_sub(before.total);
    Some(used as f64 / system as f64 * f64::from(cpus) * 100.0)
}

impl Engine {
    /// One one-shot stats sample, or None if Docker did not answer in time.
    async fn stats_sample(&self, id: &str) -> Option<ContainerStatsResponse> {
        let opts = StatsOptionsBuilder::new()
            .stream(false)
            .one_shot(true)
            .build();
        let mut stream = self.docker.stats(id, Some(opts));
        tokio::time::timeout(READ_LIMIT, stream.next())
            .await
            .ok()
            .flatten()
            .and_then(|r| r.ok())
    }

    async fn status_text(&self, id: &str) -> String {
        match self.status(id).await {
            Ok(ContainerStatus::Starting) => "starting".to_string(),
            Ok(ContainerStatus::Running) => "running".to_string(),
            Ok(ContainerStatus::Healthy) => "healthy".to_string(),
            Ok(ContainerStatus::Unhealthy) => "unhealthy".to_string(),
            Ok(ContainerStatus::Exited(code)) => format!("exited({code})"),
            Err(_) => "unknown".to_string(),
        }
    }

    /// Health, memory and CPU of each container, in the given order. Every container is read at
    /// the same time; the whole call takes about [`CPU_INTERVAL`] plus one round trip.
    pub async fn usage(&self, containers: &[ManagedContainer]) -> Vec<ContainerUsage> {
        let first = futures_util::future::join_all(containers.iter().map(|c| async {
            (
                self.status_text(&c.id).await,
                self.stats_sample(&c.id).await,
            )
        }))
        .await;
        // A sample that carries its predecessor (an engine that fills precpu_stats) needs no
        // second one.
        let cpu_of = |s: &ContainerStatsResponse| {
            s.precpu_stats
                .as_ref()
                .and_then(CpuSample::of)
                .zip(s.cpu_stats.as_ref().and_then(CpuSample::of))
                .and_then(|(before, now)| cpu_percent(before, now))
        };
        let needs_second = first
            .iter()
            .any(|(_, s)| s.as_ref().is_some_and(|s| cpu_of(s).is_none()));
        if needs_second {
            tokio::time::sleep(CPU_INTERVAL).await;
        }
        let second = futures_util::future::join_all(containers.iter().zip(&first).map(
            |(c, (_, s))| async move {
                match s {
                    Some(s) if needs_second && cpu_of(s).is_none() => {
                        self.stats_sample(&c.id).await
                    }
                    _ => None,
                }
            },
        ))
        .await;
        containers
            .iter()
            .zip(first)
            .zip(second)
            .map(|((c, (status, sample)), later)| {
                let cpu = sample.as_ref().and_then(|s| {
                    cpu_of(s).or_else(|| {
                        let before = s.cpu_stats.as_ref().and_then(CpuSample::of)?;
                        let now = later.as_ref()?.cpu_stats.as_ref().and_then(CpuSample::of)?;
                        cpu_percent(before, now)
                    })
                });
                let memory = later
                    .as_ref()
                    .or(sample.as_ref())
                    .and_then(|s| s.memory_stats.as_ref());
                ContainerUsage {
                    name: c.name.clone(),
                    service: c.service.clone(),
                    status,
                    memory_bytes: memory.and_then(|m| m.usage),
                    memory_limit: memory.and_then(|m| m.limit),
                    cpu_percent: cpu,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(total: u64, system: u64, cpus: u32) -> CpuSample {
        CpuSample {
            total,
            system,
            cpus,
        }
    }

    #[test]
    fn cpu_is_the_containers_share_of_the_host_times_its_cores() {
        // Between the samples the host ran 4 cores for 1 s (4e9 ns); the container used 0.5 s.
        let p = cpu_percent(
            sample(1_000, 10_000_000_000, 4),
            sample(500_001_000, 14_000_000_000, 4),
        );
        assert_eq!(p, Some(50.0));
        // Idle: 0 %, not unknown.
        assert_eq!(cpu_percent(sample(7, 100, 2), sample(7, 200, 2)), Some(0.0));
    }

    #[test]
    fn cpu_is_unknown_without_two_readings() {
        // A one-shot sample's empty precpu_stats reads as zeros.
        assert_eq!(cpu_percent(sample(0, 0, 0), sample(5, 100, 2)), None);
        assert_eq!(cpu_percent(sample(5, 100, 2), sample(5, 100, 2)), None);
        assert_eq!(cpu_percent(sample(5, 200, 2), sample(9, 100, 2)), None);
    }

    #[test]
    fn cores_come_from_the_per_core_list_when_online_cpus_is_missing() {
        let stats = ContainerCpuStats {
            cpu_usage: Some(bollard::models::ContainerCpuUsage {
                total_usage: Some(10),
                percpu_usage: Some(vec![4, 6, 0]),
                ..Default::default()
            }),
            system_cpu_usage: Some(99),
            online_cpus: None,
            ..Default::default()
        };
        assert_eq!(CpuSample::of(&stats), Some(sample(10, 99, 3)));
        assert_eq!(CpuSample::of(&ContainerCpuStats::default()), None);
    }
}
