//! The proxy's knobs, taken from `[proxy]` and `[log]` in clubhost.toml. Plain data so tests can
//! build a proxy with tight limits without a config file.

use std::time::Duration;

use crate::config::{Config, LogFormat};

use super::forwarded::Cidr;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Announced in X-Forwarded-Proto.
    pub scheme: String,
    /// Peers whose X-Forwarded-* are kept and extended instead of dropped.
    pub trusted_proxies: Vec<Cidr>,
    /// Request bodies larger than this get 413 (by Content-Length up front, or mid-stream).
    pub max_body_size: u64,
    /// Request heads larger than this get 431.
    pub max_header_size: usize,
    pub connect_timeout: Duration,
    /// Upstream's time to response headers; after it the visitor gets 504.
    pub response_header_timeout: Duration,
    /// Pooled upstream connections idle longer than this are closed.
    pub idle_timeout: Duration,
    /// A client's time to send request headers (and to start the next one on a keep-alive
    /// connection); slowloris protection.
    pub header_read_timeout: Duration,
    /// Access log format; `None` logs nothing.
    pub access_log: Option<LogFormat>,
    /// How long shutdown waits for requests in flight.
    pub shutdown_deadline: Duration,
    /// Where the portal is (`/portal/`, or `http://portal.<domain>/` when it has its own host),
    /// for the link on the proxy's own pages.
    pub portal_path: String,
    /// `portal.<domain>` when the portal lives only on its own host (`[portal] own_host` with
    /// subdomains on): requests for its path on other hosts are redirected there.
    pub portal_host: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from_config(&Config::default())
    }
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        let p = &config.proxy;
        let portal_host =
            (p.subdomains && config.portal.own_host).then(|| format!("portal.{}", config.domain));
        Settings {
            scheme: p.scheme.clone(),
            // Config validation already refused bad entries.
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
            access_log: p.access_log.then_some(config.log.format),
            shutdown_deadline: Duration::from_secs(10),
            portal_path: match &portal_host {
                // Error pages on any host link to the portal's own host.
                Some(host) => format!("{}://{host}/", p.scheme),
                None => format!("{}/", config.portal.base()),
            },
            portal_host,
        }
    }

    pub fn trusts(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(ip))
    }
}
