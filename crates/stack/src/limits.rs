//! Resource limits: what every service gets when it asks for nothing, the most it may ask for,
//! and which images are allowed. Read from the `[limits]` section of `clubhost.toml`; kept here so
//! the checker stays pure and the portal, the CLI and the approve path apply the same numbers.

use serde::{Deserialize, Serialize};

/// Limits from config. Memory is written like Compose (`"256m"`, `"1g"`), CPUs as a fraction of
/// one core (`0.5`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Memory for a service that asks for none.
    pub(crate) default_memory: String,
    /// The most memory one service may have; larger requests are capped (with a warning).
    pub(crate) max_memory: String,
    /// CPUs for a service that asks for none.
    pub(crate) default_cpus: f64,
    /// The most CPUs one service may have.
    pub(crate) max_cpus: f64,
    /// Processes for a service that asks for no limit: stops fork bombs.
    pub(crate) default_pids: i64,
    pub(crate) max_pids: i64,
    /// The most services one stack may have.
    pub max_services: usize,
    /// Registries images may come from (`docker.io`, `ghcr.io`); empty means any. Images without
    /// a registry part are Docker Hub's (`docker.io`).
    pub(crate) allowed_registries: Vec<String>,
    /// The largest log file a service's `logging: { options: { max-size } }` may ask for, and
    /// what a service gets when it asks for none (`json-file` and `local` drivers only).
    pub(crate) max_log_size: String,
    /// The most rotated log files a service may keep (`max-file`), and the default.
    pub(crate) max_log_files: u32,
    /// The most shared memory (`shm_size`) a service may ask for; `/dev/shm` counts against its
    /// memory limit anyway.
    pub(crate) max_shm_size: String,
    /// Caps on `ulimits:` (`nofile`, `nproc`, `memlock`, soft and hard alike). `memlock` is
    /// written like a size (`"64m"`).
    pub(crate) max_nofile: i64,
    pub(crate) max_nproc: i64,
    pub(crate) max_memlock: String,
    /// The most tasks one service may run in swarm mode (`deploy.replicas` above it is capped,
    /// with a warning). The engine runs one container per service whatever it says.
    pub max_replicas: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            default_memory: "256m".into(),
            max_memory: "1g".into(),
            default_cpus: 0.5,
            max_cpus: 2.0,
            default_pids: 256,
            max_pids: 1024,
            max_services: 8,
            allowed_registries: Vec::new(),
            max_log_size: "10m".into(),
            max_log_files: 3,
            max_shm_size: "256m".into(),
            max_nofile: 65536,
            max_nproc: 4096,
            max_memlock: "64m".into(),
            max_replicas: 1,
        }
    }
}

impl Limits {
    /// Checks the numbers make sense; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        let dm = parse_bytes(&self.default_memory).ok_or_else(|| {
            format!(
                "key `limits.default_memory`: {:?} is not a size like \"256m\"",
                self.default_memory
            )
        })?;
        let mm = parse_bytes(&self.max_memory).ok_or_else(|| {
            format!(
                "key `limits.max_memory`: {:?} is not a size like \"1g\"",
                self.max_memory
            )
        })?;
        if dm > mm {
            return Err("key `limits.default_memory`: larger than limits.max_memory".into());
        }
        if !(self.default_cpus > 0.0 && self.default_cpus <= self.max_cpus) {
            return Err(
                "key `limits.default_cpus`: must be above 0 and at most limits.max_cpus".into(),
            );
        }
        if !(self.default_pids > 0 && self.default_pids <= self.max_pids) {
            return Err(
                "key `limits.default_pids`: must be above 0 and at most limits.max_pids".into(),
            );
        }
        for (key, value) in [
            ("max_log_size", &self.max_log_size),
            ("max_shm_size", &self.max_shm_size),
            ("max_memlock", &self.max_memlock),
        ] {
            if parse_bytes(value).is_none() {
                return Err(format!(
                    "key `limits.{key}`: {value:?} is not a size like \"64m\""
                ));
            }
        }
        if self.max_log_files == 0 || self.max_nofile <= 0 || self.max_nproc <= 0 {
            return Err(
                "keys `limits.max_log_files`, `max_nofile`, `max_nproc`: must be at least 1".into(),
            );
        }
        if self.max_services == 0 {
            return Err("key `limits.max_services`: must be at least 1".into());
        }
        Ok(())
    }

    pub(crate) fn default_memory_bytes(&self) -> i64 {
        parse_bytes(&self.default_memory).unwrap_or(256 << 20)
    }

    /// `max_memory` in bytes; 1 GiB when it is not a size (which [`Limits::validate`] refuses).
    pub fn max_memory_bytes(&self) -> i64 {
        parse_bytes(&self.max_memory).unwrap_or(1 << 30)
    }

    pub(crate) fn max_log_size_bytes(&self) -> i64 {
        parse_bytes(&self.max_log_size).unwrap_or(10 << 20)
    }

    pub(crate) fn max_shm_size_bytes(&self) -> i64 {
        parse_bytes(&self.max_shm_size).unwrap_or(256 << 20)
    }

    pub(crate) fn max_memlock_bytes(&self) -> i64 {
        parse_bytes(&self.max_memlock).unwrap_or(64 << 20)
    }

    /// The registry part of an image reference, as Docker resolves it.
    pub(crate) fn registry_of(image: &str) -> &str {
        match image.split_once('/') {
            Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
            _ => "docker.io",
        }
    }

    /// Whether `image` may be used under the allow list.
    pub(crate) fn image_allowed(&self, image: &str) -> bool {
        self.allowed_registries.is_empty()
            || self
                .allowed_registries
                .iter()
                .any(|r| r == Limits::registry_of(image))
    }
}

/// What one service gets, after defaults and caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResourceLimits {
    /// Memory limit in bytes; the deployer also sets swap to it, so there is no swap on top.
    pub memory_bytes: i64,
    /// CPUs in units of 10^-9 CPUs, Docker's `NanoCpus`.
    pub nano_cpus: i64,
    /// Maximum number of processes and threads in the container (Docker's `PidsLimit`).
    pub pids: i64,
}

/// Compose sizes: `512m`, `1g`, `1.5gb`, `1024k`, `100000` (bytes). `None` when not a size.
pub fn parse_bytes(text: &str) -> Option<i64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1i64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        't' => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().ok()?;
    if !n.is_finite() || n <= 0.0 || n * mult as f64 > i64::MAX as f64 / 2.0 {
        return None;
    }
    Some((n * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("1G"), Some(1 << 30));
        assert_eq!(parse_bytes("1.5gb"), Some(3 << 29));
        assert_eq!(parse_bytes("2048"), Some(2048));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("-1m"), None);
    }

    #[test]
    fn registries() {
        assert_eq!(Limits::registry_of("mysql:5.7"), "docker.io");
        assert_eq!(Limits::registry_of("wordpress/wordpress"), "docker.io");
        assert_eq!(Limits::registry_of("ghcr.io/a/b:1"), "ghcr.io");
        assert_eq!(Limits::registry_of("localhost:5000/x"), "localhost:5000");
        let l = Limits {
            allowed_registries: vec!["ghcr.io".into()],
            ..Limits::default()
        };
        assert!(l.image_allowed("ghcr.io/a/b"));
        assert!(!l.image_allowed("mysql"));
        assert!(Limits::default().image_allowed("anything"));
        assert!(Limits::default().validate().is_ok());
        let bad = Limits {
            max_log_size: "huge".into(),
            ..Limits::default()
        };
        assert!(bad.validate().unwrap_err().contains("limits.max_log_size"));
        let bad = Limits {
            max_nofile: 0,
            ..Limits::default()
        };
        assert!(bad.validate().unwrap_err().contains("max_nofile"));
    }
}
