//! `clubhost.toml`: what the operator can set, with defaults that let `clubhost serve` run with no
//! file at all.
//!
//! Every struct denies unknown keys, so a typo is an error that names the key and its line (the
//! `toml` crate reports both) instead of a setting silently ignored.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod backup;
mod build;
mod club;
mod docker;
mod tls;
pub use backup::BackupConfig;
pub use build::BuildConfig;
pub use club::ClubConfig;
pub(crate) use docker::DockerConfig;
pub use docker::DockerMode;
pub use tls::{AcmeChallenge, TlsConfig};

/// Name of the config file looked up in the working directory when none is given.
pub(crate) const DEFAULT_FILE: &str = "clubhost.toml";

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists (or was named) but cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file that was named, or `clubhost.toml` in the working directory.
        path: PathBuf,
        /// The I/O error, e.g. not found or permission denied.
        source: std::io::Error,
    },
    /// The toml crate's message already carries the line, column and a snippet of the key.
    #[error("invalid config file {path}:\n{message}")]
    Parse {
        /// The file the text came from.
        path: PathBuf,
        /// The toml crate's message, with where in the file.
        message: String,
    },
    /// TOML that parses but holds a value clubhost cannot use (bad domain, clashing routes…).
    #[error("invalid config file {path}: {message}")]
    Invalid {
        /// The file the settings came from.
        path: PathBuf,
        /// Which key is wrong and why.
        message: String,
    },
}

/// The whole configuration, after defaults are filled in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The club's domain; projects live at `<domain>/<slug>`.
    pub domain: String,
    /// Holds the SQLite registry and the admin socket.
    pub data_dir: PathBuf,
    /// `[proxy]`: where visitors connect and how requests are routed.
    pub proxy: ProxyConfig,
    /// `[docker]`: the engine and how deploys behave on it.
    pub docker: DockerConfig,
    /// `[projects]`: hosting terms a submission may ask for.
    pub projects: ProjectsConfig,
    /// `[log]`: access log format.
    pub log: LogConfig,
    /// `[portal]`: where the members' web portal is served and who may sign up.
    pub portal: PortalConfig,
    /// Terms, reminders, grace period and quotas.
    pub lifecycle: crate::lifecycle::terms::LifecycleConfig,
    /// Where notifications go (webhooks, SMTP).
    pub notify: crate::notify::NotifyConfig,
    /// `[limits]`: per-service memory/CPU/pids defaults and caps, services per stack, allowed
    /// image registries. Defined in `stack` so the checker stays pure.
    pub limits: clubhost_stack::Limits,
    /// `[secrets]`: where the key that seals secret variables in the registry is kept.
    pub secrets: SecretsConfig,
    /// `[club]`: the club's name, front page and language, and how members join its chat.
    pub club: ClubConfig,
    /// `[build]`: caps on a project's files and limits on building its images.
    pub build: BuildConfig,
    /// `[tls]`: where HTTPS certificates come from (ACME or the club's files) and HSTS.
    pub tls: TlsConfig,
    /// `[backup]`: where project backups go, when they are taken and how many are kept.
    pub backup: BackupConfig,
}

/// `[secrets]`: where the key that seals secret project variables in the registry is kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// The key file (64 hex digits, made 0600 at first start if missing); default
    /// `<data_dir>/secret.key`. A systemd credential named `clubhost-secret-key` takes precedence.
    pub(crate) key_file: Option<PathBuf>,
}

/// `[proxy]`: the reverse proxy in front of every project.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Where visitors connect. Loopback by default so a first run exposes nothing.
    pub listen: SocketAddr,
    /// Where visitors connect over HTTPS (HTTP/2 and HTTP/1.1); unset: no HTTPS. Certificates
    /// come from `[tls]`.
    pub https_listen: Option<SocketAddr>,
    /// Scheme announced in X-Forwarded-Proto (`https` when a TLS terminator sits in front).
    pub scheme: String,
    /// Services clubhost does not deploy, routed like projects; reloaded on SIGHUP.
    pub routes: Vec<StaticRoute>,
    /// `<slug>.<domain>` reaches a project without its prefix, for apps that cannot live under a
    /// sub-path (needs a wildcard DNS record).
    pub subdomains: bool,
    /// Peers (IPs or CIDRs) whose X-Forwarded-* headers are believed, e.g. a TLS terminator in
    /// front. Anyone else's are dropped so a visitor cannot pose as another address.
    pub(crate) trusted_proxies: Vec<String>,
    /// Largest request body; bigger ones get 413. Generous by default (WordPress uploads).
    #[serde(with = "byte_size")]
    pub(crate) max_body_size: u64,
    /// Largest request head (request line and headers); bigger ones get 431.
    #[serde(with = "byte_size")]
    pub(crate) max_header_size: u64,
    /// How long connecting to an upstream may take before 502.
    #[serde(with = "humantime_serde_compat")]
    pub(crate) connect_timeout: Duration,
    /// How long an upstream may take to send response headers before 504.
    #[serde(with = "humantime_serde_compat")]
    pub(crate) response_header_timeout: Duration,
    /// How long a pooled keep-alive connection to an upstream is kept unused.
    #[serde(with = "humantime_serde_compat")]
    pub(crate) idle_timeout: Duration,
    /// How long a client may take to send a request's headers (also the longest idle keep-alive
    /// wait between requests); stops slowloris.
    #[serde(with = "humantime_serde_compat")]
    pub(crate) header_read_timeout: Duration,
    /// Upstream connections one project may hold at once (0: no cap); past it visitors get 503
    /// naming the project, so a project that never answers cannot take the proxy's capacity from
    /// the others.
    pub(crate) max_conns_per_route: usize,
    /// Requests to one project that may wait for a connection once it is at
    /// `max_conns_per_route` (0: none, 503 at the cap); past it, 503 naming the project.
    pub(crate) max_waiting_per_route: usize,
    /// The longest such a request waits (never past `response_header_timeout`) before 503.
    #[serde(with = "humantime_serde_compat")]
    pub(crate) queue_timeout: Duration,
    /// One access log line per request.
    pub(crate) access_log: bool,
    /// `[proxy.overrides.<key>]`: limits for one route that differ from the ones above. The key
    /// is a project's slug, or a static route's path segment or host. Reloaded on SIGHUP.
    pub(crate) overrides: std::collections::BTreeMap<String, RouteOverrides>,
}

/// Per-route exceptions to `[proxy]`'s limits, for a project that needs more (a WordPress media
/// library wants bigger uploads, a report generator a longer wait) or less than the club's
/// defaults. Only what is decided per request can differ per route; header size and the
/// header read timeout apply before the route is known.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteOverrides {
    /// Replaces `proxy.max_body_size` for this route.
    #[serde(default, deserialize_with = "byte_size::some")]
    pub(crate) max_body_size: Option<u64>,
    /// Replaces `proxy.response_header_timeout` for this route.
    #[serde(default, deserialize_with = "humantime_serde_compat::some")]
    pub(crate) response_header_timeout: Option<Duration>,
    /// Switches the sub-path helpers (Location / Set-Cookie rewrite) on or off for this route.
    pub(crate) rewrite: Option<bool>,
    /// Replaces `proxy.max_conns_per_route` for this route.
    pub(crate) max_conns_per_route: Option<usize>,
    /// Replaces `proxy.max_waiting_per_route` for this route.
    pub(crate) max_waiting_per_route: Option<usize>,
}

/// A `[[proxy.routes]]` entry: a path prefix or a host, sent to a fixed upstream.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StaticRoute {
    /// `/status` (one segment, stripped before forwarding) or `/` for the root.
    pub(crate) path: Option<String>,
    /// A whole host name instead of a path; nothing is stripped.
    pub(crate) host: Option<String>,
    /// `http://127.0.0.1:9000`: where requests go (plain HTTP, no path).
    pub(crate) upstream: String,
    /// Shown on error pages and in metrics; defaults to the path or host.
    pub(crate) name: Option<String>,
    /// Rewrite Location / Set-Cookie paths under the prefix.
    #[serde(default = "default_true")]
    pub(crate) rewrite: bool,
}

fn default_true() -> bool {
    true
}

/// Access log format; the proxy owns the type, the config only reads it.
pub(crate) use clubhost_proxy::LogFormat;

/// `[log]`: how the proxy writes access log lines.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `plain` (one readable line) or `json` (one object per line) for access log lines.
    pub(crate) format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Plain,
        }
    }
}

impl Config {
    /// The proxy's settings from `[proxy]`, `[log]` and the portal's place.
    pub fn proxy_settings(&self) -> clubhost_proxy::Settings {
        let p = &self.proxy;
        let portal_host =
            (p.subdomains && self.portal.own_host).then(|| format!("portal.{}", self.domain));
        clubhost_proxy::Settings {
            scheme: p.scheme.clone(),
            // Validation already refused bad entries.
            trusted_proxies: p
                .trusted_proxies
                .iter()
                .filter_map(|t| t.parse().ok())
                .collect(),
            max_body_size: p.max_body_size,
            max_header_size: usize::try_from(p.max_header_size).unwrap_or(usize::MAX),
            connect_timeout: p.connect_timeout,
            response_header_timeout: p.response_header_timeout,
            idle_timeout: p.idle_timeout,
            header_read_timeout: p.header_read_timeout,
            max_conns_per_route: p.max_conns_per_route,
            max_waiting_per_route: p.max_waiting_per_route,
            queue_timeout: p.queue_timeout,
            access_log: p.access_log.then_some(self.log.format),
            shutdown_deadline: std::time::Duration::from_secs(10),
            portal_path: self.portal_link(),
            portal_host,
        }
    }

    /// Where pages link to the portal: its own host (`https://portal.<domain>/`) when it has
    /// one, so error pages on any host reach it, else its path (`/portal/`).
    pub fn portal_link(&self) -> String {
        let p = &self.proxy;
        if p.subdomains && self.portal.own_host {
            format!("{}://portal.{}/", p.scheme, self.domain)
        } else {
            format!("{}/", self.portal.base())
        }
    }

    /// The portal's full address for notes read outside it (mail, chat): `path` under it.
    pub fn portal_url(&self, path: &str) -> String {
        let link = self.portal_link();
        if link.starts_with('/') {
            format!("{}://{}{link}{path}", self.proxy.scheme, self.domain)
        } else {
            format!("{link}{path}")
        }
    }
}

impl StaticRoute {
    /// The upstream's socket address (resolved now; `localhost` and IP literals need no DNS).
    pub(crate) fn upstream_addr(&self) -> Result<SocketAddr, String> {
        use std::net::ToSocketAddrs;
        let rest = self.upstream.strip_prefix("http://").ok_or_else(|| {
            format!(
                "upstream {:?} must look like \"http://127.0.0.1:9000\"",
                self.upstream
            )
        })?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(format!(
                "upstream {:?}: only scheme, host and port are allowed (no path)",
                self.upstream
            ));
        }
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        with_port
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("upstream {:?}: cannot resolve {with_port}", self.upstream))
    }

    /// The path segment owned (`status` for `/status`, empty for `/`), if a path route.
    pub(crate) fn segment(&self) -> Option<&str> {
        self.path
            .as_deref()
            .map(|p| p.trim_start_matches('/').trim_end_matches('/'))
    }

    fn check(&self, portal_segment: &str) -> Result<(), String> {
        match (&self.path, &self.host) {
            (Some(_), Some(_)) | (None, None) => {
                return Err("give exactly one of `path` or `host`".into());
            }
            (Some(p), None) => {
                let seg = self.segment().unwrap_or_default();
                if !p.starts_with('/')
                    || seg.contains('/')
                    || !seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
                {
                    return Err(format!(
                        "path {p:?} must be `/` or one segment like `/status`"
                    ));
                }
                if seg == portal_segment {
                    return Err(format!(
                        "path {p:?} is reserved for the portal (portal.path)"
                    ));
                }
            }
            (None, Some(h)) => {
                if h.is_empty() || h.contains(['/', ' ', ':']) {
                    return Err(format!("host {h:?} is not a host name"));
                }
            }
        }
        self.upstream_addr().map(|_| ())
    }
}

/// `[projects]`: hosting terms, in days.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProjectsConfig {
    /// Hosting term when a submission names none.
    pub default_days: u32,
    /// The longest term a submission may ask for.
    pub max_days: u32,
}

/// `[portal]`: the members' web portal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalConfig {
    /// Where the portal is served: one path segment, `/portal/` by default. No project or static
    /// route may take it. With `proxy.subdomains`, `portal.<domain>` serves it at `/` as well.
    pub(crate) path: String,
    /// When set, sign-up asks for this code, so only people the club gave it to can join.
    /// `None` leaves sign-up open.
    pub invite_code: Option<String>,
    /// The club's chat invite (Slack or Discord link), shown on the join page to signed-in members
    /// only, so it is not scraped from a public page.
    pub chat_invite_url: Option<String>,
    /// With `proxy.subdomains`: the portal lives only on `portal.<domain>`, and its path on any
    /// other host redirects there. Why: a member's project under `<domain>/<slug>/` shares the
    /// club domain's origin; if the portal did too, the project's JavaScript could use a visiting
    /// member's (or admin's) portal session. On its own host the portal is another origin.
    pub own_host: bool,
}

impl Default for PortalConfig {
    fn default() -> Self {
        PortalConfig {
            path: "/portal/".into(),
            invite_code: None,
            chat_invite_url: None,
            own_host: true,
        }
    }
}

impl PortalConfig {
    /// The portal's path segment: `portal` for `/portal/`.
    pub(crate) fn segment(&self) -> &str {
        self.path.trim_matches('/')
    }

    /// The portal's path without the trailing slash, as links start: `/portal`.
    pub fn base(&self) -> String {
        format!("/{}", self.segment())
    }

    fn check(&self) -> Result<(), String> {
        let seg = self.segment();
        let one_segment = self.path.starts_with('/')
            && !seg.is_empty()
            && seg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.~".contains(&b));
        if !one_segment {
            return Err(format!(
                "key `portal.path`: {:?} must be one path segment of lowercase letters, digits and \
                 `-_.~`, like \"/portal/\"",
                self.path
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            domain: "localhost".into(),
            data_dir: PathBuf::from("./data"),
            proxy: ProxyConfig::default(),
            docker: DockerConfig::default(),
            projects: ProjectsConfig::default(),
            log: LogConfig::default(),
            portal: PortalConfig::default(),
            lifecycle: Default::default(),
            notify: Default::default(),
            limits: clubhost_stack::Limits::default(),
            secrets: SecretsConfig::default(),
            club: ClubConfig::default(),
            build: BuildConfig::default(),
            tls: TlsConfig::default(),
            backup: BackupConfig::default(),
        }
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            https_listen: None,
            scheme: "http".into(),
            routes: Vec::new(),
            subdomains: false,
            trusted_proxies: Vec::new(),
            max_body_size: 100 * 1024 * 1024,
            max_header_size: 64 * 1024,
            connect_timeout: Duration::from_secs(5),
            response_header_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(30),
            max_conns_per_route: 256,
            max_waiting_per_route: 64,
            queue_timeout: Duration::from_secs(5),
            access_log: true,
            overrides: Default::default(),
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
        self.portal.check()?;
        let mut seen = std::collections::HashSet::new();
        for (i, r) in self.proxy.routes.iter().enumerate() {
            r.check(self.portal.segment())
                .map_err(|e| format!("`proxy.routes` entry {}: {e}", i + 1))?;
            let key = (r.segment().map(str::to_string), r.host.clone());
            if !seen.insert(key) {
                return Err(format!(
                    "`proxy.routes` entry {}: another route has the same path or host",
                    i + 1
                ));
            }
        }
        for t in &self.proxy.trusted_proxies {
            t.parse::<clubhost_proxy::forwarded::Cidr>()
                .map_err(|e| format!("key `proxy.trusted_proxies`: {e}"))?;
        }
        for (key, o) in &self.proxy.overrides {
            let name_like = !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
            if !name_like {
                return Err(format!(
                    "`proxy.overrides.{key}`: the key must be a project slug, a static route's \
                     path segment or its host"
                ));
            }
            if o.max_body_size == Some(0) {
                return Err(format!(
                    "key `proxy.overrides.{key}.max_body_size`: must be more than 0"
                ));
            }
        }
        if self.proxy.max_header_size < 1024 {
            return Err("key `proxy.max_header_size`: must be at least 1KiB".into());
        }
        self.docker.check(self.limits.max_services)?;
        self.club.check()?;
        self.build.check()?;
        if self.proxy.https_listen == Some(self.proxy.listen) {
            return Err(format!(
                "key `proxy.https_listen`: {} is `proxy.listen` too; give HTTPS its own port",
                self.proxy.listen
            ));
        }
        self.tls
            .check(self.proxy.https_listen.is_some(), &self.domain)?;
        self.backup.check()?;
        if self.projects.default_days == 0 || self.projects.default_days > self.projects.max_days {
            return Err(format!(
                "key `projects.default_days`: {} must be between 1 and projects.max_days ({})",
                self.projects.default_days, self.projects.max_days
            ));
        }
        self.lifecycle.validate()?;
        self.notify.validate()?;
        self.limits.validate()?;
        Ok(())
    }

    /// The registry's SQLite file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("clubhost.db")
    }

    /// The secret key file (when no systemd credential gives the key).
    pub fn secret_key_path(&self) -> PathBuf {
        self.secrets
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret.key"))
    }

    /// The admin API's unix socket; the CLI finds a running server through it.
    pub fn socket_path(&self) -> PathBuf {
        self.data_dir.join("clubhost.sock")
    }
}

mod units;
use units::{byte_size, humantime_serde_compat};

#[cfg(test)]
mod tests;
