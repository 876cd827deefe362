//! `clubhost.toml`: what the operator can set, with defaults that let `clubhost serve` run with no
//! file at all.
//!
//! Every struct denies unknown keys, so a typo is an error that names the key and its line (the
//! `toml` crate reports both) instead of a setting silently ignored.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Name of the config file looked up in the working directory when none is given.
pub const DEFAULT_FILE: &str = "clubhost.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The toml crate's message already carries the line, column and a snippet of the key.
    #[error("invalid config file {path}:\n{message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The whole configuration, after defaults are filled in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The club's domain; projects live at `<domain>/<slug>`.
    pub domain: String,
    /// Holds the SQLite registry and the admin socket.
    pub data_dir: PathBuf,
    pub proxy: ProxyConfig,
    pub docker: DockerConfig,
    pub projects: ProjectsConfig,
    /// `[limits]`: per-service memory/CPU/pids defaults and caps, services per stack, allowed
    /// image registries. Defined in `stack` so the checker stays pure.
    pub limits: crate::stack::Limits,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Where visitors connect. Loopback by default so a first run exposes nothing.
    pub listen: SocketAddr,
    /// Scheme announced in X-Forwarded-Proto (`https` when a TLS terminator sits in front).
    pub scheme: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockerConfig {
    /// Docker endpoint (`unix:///var/run/docker.sock`, `tcp://host:2375`). `None` means the
    /// `DOCKER_HOST` environment variable, else the local socket.
    pub host: Option<String>,
    /// The bridge network the proxy reaches exposed services on.
    pub gateway_network: String,
    /// How long one deploy may take to become healthy before it is rolled back, e.g. "120s".
    #[serde(with = "humantime_serde_compat")]
    pub deploy_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProjectsConfig {
    /// Hosting term when a submission names none.
    pub default_days: u32,
    /// The longest term a submission may ask for.
    pub max_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            domain: "localhost".into(),
            data_dir: PathBuf::from("./data"),
            proxy: ProxyConfig::default(),
            docker: DockerConfig::default(),
            projects: ProjectsConfig::default(),
            limits: crate::stack::Limits::default(),
        }
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            scheme: "http".into(),
        }
    }
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            host: None,
            gateway_network: "clubhost-gateway".into(),
            deploy_timeout: Duration::from_secs(120),
        }
    }
}

impl Default for ProjectsConfig {
    fn default() -> Self {
        ProjectsConfig {
            default_days: 120,
            max_days: 365,
        }
    }
}

impl Config {
    /// Loads `path` if given; otherwise `clubhost.toml` in the working directory if it exists;
    /// otherwise the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_FILE).exists() => PathBuf::from(DEFAULT_FILE),
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Config::parse(&text, &path)
    }

    /// Parses config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.domain.is_empty() || self.domain.contains(['/', ' ', ':']) {
            return Err(format!(
                "key `domain`: {:?} is not a host name (no scheme, port or path)",
                self.domain
            ));
        }
        if !matches!(self.proxy.scheme.as_str(), "http" | "https") {
            return Err(format!(
                "key `proxy.scheme`: {:?} must be \"http\" or \"https\"",
                self.proxy.scheme
            ));
        }
        if self.docker.gateway_network.is_empty() {
            return Err("key `docker.gateway_network`: must not be empty".into());
        }
        if self.projects.default_days == 0 || self.projects.default_days > self.projects.max_days {
            return Err(format!(
                "key `projects.default_days`: {} must be between 1 and projects.max_days ({})",
                self.projects.default_days, self.projects.max_days
            ));
        }
        self.limits.validate()?;
        Ok(())
    }

    /// The registry's SQLite file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("clubhost.db")
    }

    /// The admin API's unix socket; the CLI finds a running server through it.
    pub fn socket_path(&self) -> PathBuf {
        self.data_dir.join("clubhost.sock")
    }
}

/// Durations written the way people write them ("90s", "2m") in TOML strings.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!("{text:?} is not a duration like \"90s\": {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("", Path::new("t.toml")).unwrap();
        assert_eq!(c.domain, "localhost");
        assert_eq!(c.proxy.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.docker.gateway_network, "clubhost-gateway");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let text = "domain = \"club.example\"\n\n[proxy]\nlisten = \"127.0.0.1:80\"\nlistn = 3\n";
        let err = Config::parse(text, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("listn"), "{err}");
        assert!(err.contains("line 5"), "{err}");
    }

    #[test]
    fn bad_value_names_key_and_line() {
        let text = "[proxy]\nlisten = \"not an address\"\n";
        let err = Config::parse(text, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("listen"), "{err}");
    }

    #[test]
    fn limits_section_is_read_and_checked() {
        let c = Config::parse(
            "[limits]\nmax_memory = \"2g\"\nmax_services = 3\nallowed_registries = [\"ghcr.io\"]\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(c.limits.max_memory_bytes(), 2 << 30);
        assert_eq!(c.limits.max_services, 3);
        let err = Config::parse("[limits]\nmax_memory = \"lots\"\n", Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("limits.max_memory"), "{err}");
    }

    #[test]
    fn bad_domain_is_refused() {
        let err = Config::parse("domain = \"http://x\"", Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("domain"), "{err}");
    }
}
