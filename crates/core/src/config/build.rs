//! `[build]`: how much of a member's project clubhost accepts (archive and unpacked size, file
//! count) and how building its images may use the server (memory, CPU, time, how many at once,
//! network, cache). The defaults are what a club's one server can afford while it keeps serving.

use std::time::Duration;

use serde::Deserialize;

use super::{byte_size, humantime_serde_compat};

/// `[build]`: caps on a project's files and limits on its image builds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuildConfig {
    /// Largest upload (archive) or repository download accepted, in bytes ("100MiB").
    #[serde(with = "byte_size")]
    pub max_compressed: u64,
    /// Largest total size of a project's files once unpacked, counted while unpacking.
    #[serde(with = "byte_size")]
    pub max_unpacked: u64,
    /// Most files (and folders) a project may hold.
    pub max_files: u64,
    /// Memory one build may use ("2GiB"); a build past it is stopped.
    #[serde(with = "byte_size")]
    pub memory: u64,
    /// CPUs one build may use.
    pub cpus: f64,
    /// How long one build may run before it is stopped.
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
    /// Builds running at once; the others wait in a queue the portal shows.
    pub concurrency: usize,
    /// Whether builds reach the network (package installs need it).
    pub network: bool,
    /// Build cache and dangling build images are pruned past this size.
    #[serde(with = "byte_size")]
    pub cache_max: u64,
    /// How long a git clone may take.
    #[serde(with = "humantime_serde_compat")]
    pub git_timeout: Duration,
    /// Revisions of a project's files kept on disk (the newest ones); the deployed and the
    /// pending revision are always kept besides.
    pub keep_revisions: usize,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            max_compressed: 100 << 20,
            max_unpacked: 500 << 20,
            max_files: 20_000,
            memory: 2 << 30,
            cpus: 1.0,
            timeout: Duration::from_secs(15 * 60),
            concurrency: 1,
            network: true,
            cache_max: 10 << 30,
            git_timeout: Duration::from_secs(120),
            keep_revisions: 5,
        }
    }
}

impl BuildConfig {
    /// Refuses settings that could not work, naming the key.
    pub(super) fn check(&self) -> Result<(), String> {
        if self.concurrency == 0 {
            return Err("key `build.concurrency`: must be at least 1".into());
        }
        if self.cpus.is_nan() || self.cpus <= 0.0 {
            return Err("key `build.cpus`: must be more than 0".into());
        }
        if self.memory < 6 << 20 {
            return Err("key `build.memory`: Docker needs at least 6MiB".into());
        }
        if self.keep_revisions == 0 {
            return Err("key `build.keep_revisions`: must be at least 1".into());
        }
        if self.max_files == 0 || self.max_unpacked == 0 || self.max_compressed == 0 {
            return Err("keys `build.max_*`: must be more than 0".into());
        }
        Ok(())
    }
}
