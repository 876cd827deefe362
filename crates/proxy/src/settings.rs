//! The proxy's knobs; clubhost-core fills them from `[proxy]` and `[log]` in clubhost.toml
//! (`Config::proxy_settings`). Plain data so tests can
//! build a proxy with tight limits without a config file.

use std::time::Duration;

use crate::access::LogFormat;

use super::forwarded::Cidr;

/// How the proxy behaves: what it announces, whom it trusts, and its limits and timeouts.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Announced in X-Forwarded-Proto.
    pub scheme: String,
    /// Peers whose X-Forwarded-* are kept and extended instead of dropped.
    pub trusted_proxies: Vec<Cidr>,
    /// Request bodies larger than this get 413 (by Content-Length up front, or mid-stream).
    pub max_body_size: u64,
    /// Request heads larger than this get 431.
    pub max_header_size: usize,
    /// Upstream connections one project may hold at once (requests in flight to it, from the
    /// request head sent to the end of the response body); more get 503 naming the project, so a
    /// project that hangs or dribbles cannot take every connection. 0: no cap.
    pub max_conns_per_route: usize,
    /// Requests one project may have waiting for a connection once it is at
    /// `max_conns_per_route`; more get 503 naming the project at once. 0: no queue (503 at the
    /// cap). The default, 64, is a quarter of the default cap: a burst a quarter over the cap is
    /// smoothed out, a project that stays stuck costs at most 64 parked requests more.
    pub max_waiting_per_route: usize,
    /// The longest a request waits in that queue (never longer than the route's
    /// `response_header_timeout`); then it gets 503 naming the project. Short by default (5 s,
    /// like `connect_timeout`): a slot is part of getting a connection, and a project that frees
    /// none in 5 s is stuck, not busy.
    pub queue_timeout: Duration,
    /// How long connecting to an upstream may take; after it the visitor gets 502.
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

/// The same values as `clubhost.toml` with no `[proxy]` section (a test in clubhost-core checks
/// that the two agree).
impl Default for Settings {
    fn default() -> Self {
        Settings {
            scheme: "http".into(),
            trusted_proxies: Vec::new(),
            max_body_size: 100 << 20,
            max_header_size: 64 << 10,
            max_conns_per_route: 256,
            max_waiting_per_route: 64,
            queue_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            response_header_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(30),
            access_log: Some(LogFormat::Plain),
            shutdown_deadline: Duration::from_secs(10),
            portal_path: "/portal/".into(),
            portal_host: None,
        }
    }
}

impl Settings {
    pub(crate) fn trusts(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(ip))
    }
}
