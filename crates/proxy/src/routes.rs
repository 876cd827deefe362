//! The route table: which prefix (or host) goes where. One immutable value, built whole from plain
//! data and swapped atomically; the proxy reads it without locks and a lookup allocates nothing
//! (two hash lookups at most, whatever the number of routes; `bench/route_lookup.rs` shows it).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::metrics::{self, ProjectStats};

/// Where a route's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A running project: forward to this address on the gateway.
    Upstream(SocketAddr),
    /// Known but not serving (starting, stopped, expired, failed): answer 503 saying so.
    /// `about` describes an expired project (description, owner) so the portfolio stays findable.
    Unavailable {
        /// Why it is not serving, shown on the page: `starting`, `restarting`, `expired`…
        state: String,
        /// More about an expired project; `None` for every other state.
        about: Option<String>,
    },
    /// Handled inside clubhost (the portal).
    Portal,
}

/// One route, as the table builder receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// The first path segment it owns (`slack` for `/slack/...`); empty for the root project.
    /// Ignored when `host` is set.
    pub segment: String,
    /// Shown on error pages and used as the `project` label in metrics.
    pub name: String,
    /// What its requests get: forwarded, a 503 page, or the portal.
    pub target: Target,
    /// A whole host this route owns (`status.club.example`), for static routes to services that
    /// cannot live under a sub-path. Matched before any path route; nothing is stripped.
    pub host: Option<String>,
    /// Rewrite `Location` and `Set-Cookie; Path=` pointing at `/…` under the route's prefix, so
    /// apps that do not know they live under `/slug` still work. On by default; switchable per
    /// project with `[proxy.overrides.<slug>] rewrite`.
    pub rewrite: bool,
    /// Per-route exceptions to the proxy's limits (`[proxy.overrides]`).
    pub limits: RouteLimits,
}

/// Limits one route sets for itself; `None` keeps the proxy-wide setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteLimits {
    /// Largest request body for this route, in bytes (`max_body_size`).
    pub max_body_size: Option<u64>,
    /// Upstream's time to response headers for this route (`response_header_timeout`).
    pub response_header_timeout: Option<std::time::Duration>,
    /// Upstream connections this route's project may hold at once (`max_conns_per_route`).
    pub max_conns: Option<usize>,
    /// Requests of this route that may wait for a connection at the cap (`max_waiting_per_route`).
    pub max_waiting: Option<usize>,
}

impl RouteSpec {
    /// A path route with the defaults (rewrite on, no host).
    pub fn path(segment: impl Into<String>, name: impl Into<String>, target: Target) -> RouteSpec {
        RouteSpec {
            segment: segment.into(),
            name: name.into(),
            target,
            host: None,
            rewrite: true,
            limits: RouteLimits::default(),
        }
    }
}

/// One entry of a built [`RouteTable`]: a [`RouteSpec`] with what the request path needs made
/// once.
#[derive(Debug)]
pub struct Route {
    /// Shown on error pages and the `project` label in metrics (the spec's `name`).
    pub name: String,
    /// `/slack`, or empty for the root and host routes: what is stripped and announced as
    /// X-Forwarded-Prefix.
    pub prefix: String,
    /// What its requests get.
    pub target: Target,
    /// Whether Location / Set-Cookie paths are rewritten under `prefix` (only when non-empty).
    pub(crate) rewrite: bool,
    pub(crate) limits: RouteLimits,
    /// Counters this route's requests are recorded in; looked up once when the table is built so
    /// the request path touches only atomics.
    pub(crate) stats: Arc<ProjectStats>,
    /// `10.0.0.5:8000` as a URI authority, built once here instead of per request.
    pub(crate) authority: Option<hyper::http::uri::Authority>,
    /// `prefix` as the X-Forwarded-Prefix value, `None` when empty; built once here.
    pub(crate) prefix_header: Option<hyper::header::HeaderValue>,
}

/// The result of a lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum Match<'t, 'p> {
    /// Forward with `rest` as the upstream path (always starts with `/`).
    Route {
        /// The route that owns the request.
        route: &'t Route,
        /// The request path with the route's prefix stripped (no query).
        rest: &'p str,
    },
    /// `/slack` without the slash: redirect to `/slack/` so relative links resolve.
    AddSlash,
    /// No route owns the path or host: 404.
    NotFound,
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.prefix == other.prefix && self.target == other.target
    }
}
impl Eq for Route {}

/// How host names map to routes, beyond static `host` routes.
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// With `[proxy] subdomains = true`: `<slug>.<domain>` reaches the project at `/slug` without
    /// a prefix. `None` turns subdomain routing off.
    pub subdomains_of: Option<String>,
}

/// Every route, indexed by path segment and by host; built whole, never changed after.
#[derive(Debug, Default)]
pub struct RouteTable {
    by_segment: HashMap<String, Route>,
    root: Option<Route>,
    /// Static host routes and, with subdomains on, `<slug>.<domain>` copies of project routes
    /// (prefix empty). Keys are lowercase without a port.
    by_host: HashMap<String, Route>,
    /// Members' domains' pending proof tokens, answered under [`DOMAIN_PROOF_PREFIX`].
    proofs: std::collections::HashSet<String>,
}

/// Where the proxy answers a member's domain's proof token (clubhost-core's `domains`).
pub const DOMAIN_PROOF_PREFIX: &str = "/.well-known/clubhost-domain/";

fn authority(target: &Target) -> Option<hyper::http::uri::Authority> {
    match target {
        Target::Upstream(addr) => addr.to_string().parse().ok(),
        _ => None,
    }
}

/// Longest host name DNS allows; longer Host headers match no host route.
const MAX_HOST: usize = 253;

impl RouteTable {
    /// The table, answering each of `tokens` under [`DOMAIN_PROOF_PREFIX`] (with the token) for
    /// any host, before any route or redirect.
    pub fn with_domain_proofs(mut self, tokens: impl IntoIterator<Item = String>) -> RouteTable {
        self.proofs = tokens.into_iter().collect();
        self
    }

    /// The answer to `path` if it asks for a pending domain proof token.
    pub(crate) fn domain_proof(&self, path: &str) -> Option<&str> {
        let token = path.strip_prefix(DOMAIN_PROOF_PREFIX)?;
        self.proofs.get(token).map(String::as_str)
    }

    /// A table of `specs`, with no subdomain routing.
    pub fn new(specs: impl IntoIterator<Item = RouteSpec>) -> RouteTable {
        RouteTable::with_hosts(specs, &HostOptions::default())
    }

    /// A table of `specs`; with `opts.subdomains_of`, every project route also answers on
    /// `<slug>.<domain>`. A static host route wins over a subdomain of the same name.
    pub fn with_hosts(
        specs: impl IntoIterator<Item = RouteSpec>,
        opts: &HostOptions,
    ) -> RouteTable {
        let mut table = RouteTable::default();
        for spec in specs {
            let stats = metrics::project(&spec.name);
            if let Some(host) = spec.host {
                let route = Route {
                    name: spec.name,
                    prefix: String::new(),
                    authority: authority(&spec.target),
                    target: spec.target,
                    rewrite: false,
                    limits: spec.limits,
                    prefix_header: None,
                    stats,
                };
                table.by_host.insert(host.to_ascii_lowercase(), route);
                continue;
            }
            if let (Some(domain), false, Target::Upstream(_) | Target::Unavailable { .. }) =
                (&opts.subdomains_of, spec.segment.is_empty(), &spec.target)
            {
                let host = format!("{}.{}", spec.segment, domain).to_ascii_lowercase();
                table.by_host.entry(host).or_insert_with(|| Route {
                    name: spec.name.clone(),
                    prefix: String::new(),
                    target: spec.target.clone(),
                    rewrite: false,
                    limits: spec.limits,
                    authority: authority(&spec.target),
                    prefix_header: None,
                    stats: stats.clone(),
                });
            }
            let prefix = if spec.segment.is_empty() {
                String::new()
            } else {
                format!("/{}", spec.segment)
            };
            let route = Route {
                name: spec.name,
                prefix_header: (!prefix.is_empty())
                    .then(|| hyper::header::HeaderValue::from_str(&prefix).ok())
                    .flatten(),
                prefix,
                authority: authority(&spec.target),
                target: spec.target,
                rewrite: spec.rewrite,
                limits: spec.limits,
                stats,
            };
            if spec.segment.is_empty() {
                table.root = Some(route);
            } else {
                table.by_segment.insert(spec.segment, route);
            }
        }
        table
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_segment.len() + usize::from(self.root.is_some()) + self.by_host.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The portal's path route (the one that takes its segment), for the front door at `/`.
    pub(crate) fn portal(&self) -> Option<&Route> {
        self.by_segment
            .values()
            .find(|r| matches!(r.target, Target::Portal))
    }

    /// Every route, for listings.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.root
            .iter()
            .chain(self.by_segment.values())
            .chain(self.by_host.values())
    }

    /// The host names the table routes by (lowercase, no port), with their routes: static host
    /// routes, `portal.<domain>` and `<slug>.<domain>` copies. HTTPS orders certificates for them.
    pub fn hosts(&self) -> impl Iterator<Item = (&str, &Route)> {
        self.by_host.iter().map(|(h, r)| (h.as_str(), r))
    }

    /// Finds the route for a request: a host route for `host` (the Host header, port allowed)
    /// first, then the path. Allocates nothing.
    pub fn lookup_host<'t, 'p>(&'t self, host: Option<&str>, path: &'p str) -> Match<'t, 'p> {
        if !self.by_host.is_empty()
            && let Some(host) = host
            && let Some(route) = self.host_route(host)
        {
            return Match::Route {
                route,
                rest: if path.is_empty() { "/" } else { path },
            };
        }
        self.lookup(path)
    }

    fn host_route(&self, host: &str) -> Option<&Route> {
        // Strip the port (`[v6]:port` keeps its brackets) and lowercase on the stack.
        let name = match host.rfind(':') {
            Some(i) if !host[i..].contains(']') => &host[..i],
            _ => host,
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        if !name.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.by_host.get(name);
        }
        if name.len() > MAX_HOST {
            return None;
        }
        let mut buf = [0u8; MAX_HOST];
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name.as_bytes());
        lower.make_ascii_lowercase();
        std::str::from_utf8(lower)
            .ok()
            .and_then(|n| self.by_host.get(n))
    }

    /// Finds the route for a request path. Prefixes match whole segments only: `/slack` owns
    /// `/slack` and `/slack/...`, never `/slackers`.
    pub(crate) fn lookup<'t, 'p>(&'t self, path: &'p str) -> Match<'t, 'p> {
        let after_slash = path.strip_prefix('/').unwrap_or(path);
        let (segment, rest) = match after_slash.find('/') {
            Some(i) => (&after_slash[..i], &after_slash[i..]),
            None => (after_slash, ""),
        };
        if let Some(route) = self.by_segment.get(segment) {
            if rest.is_empty() {
                return Match::AddSlash;
            }
            return Match::Route { route, rest };
        }
        match &self.root {
            Some(route) => Match::Route {
                route,
                rest: if path.is_empty() { "/" } else { path },
            },
            None => Match::NotFound,
        }
    }
}

/// The live table, shared by the proxy (readers) and the control plane (the one writer).
#[derive(Clone, Default)]
pub struct RouteHandle(Arc<ArcSwap<RouteTable>>);

impl RouteHandle {
    /// The current table, for one lookup. Lock-free; hold the guard only briefly.
    pub fn load(&self) -> arc_swap::Guard<Arc<RouteTable>> {
        self.0.load()
    }

    /// The current table as an owned `Arc`, for holding across a request's awaits.
    pub(crate) fn load_full(&self) -> Arc<RouteTable> {
        self.0.load_full()
    }

    /// Replaces the whole table at once; requests in flight keep the table they started with.
    pub fn swap(&self, table: RouteTable) {
        self.0.store(Arc::new(table));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let up = |p| Target::Upstream(SocketAddr::from(([10, 0, 0, 1], p)));
        RouteTable::new([
            RouteSpec::path("slack", "Slack", up(1)),
            RouteSpec::path("", "Home", up(2)),
        ])
    }

    #[test]
    fn prefixes_match_on_segment_boundaries() {
        let t = table();
        match t.lookup("/slack/a/b") {
            Match::Route { route, rest } => {
                assert_eq!(route.prefix, "/slack");
                assert_eq!(rest, "/a/b");
            }
            m => panic!("{m:?}"),
        }
        assert_eq!(t.lookup("/slack"), Match::AddSlash);
        // `/slackers` is not under `/slack`: it falls through to the root project.
        match t.lookup("/slackers") {
            Match::Route { route, rest } => {
                assert_eq!(route.prefix, "");
                assert_eq!(rest, "/slackers");
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn without_root_unknown_paths_are_not_found() {
        let t = RouteTable::new([RouteSpec::path("a", "A", Target::Portal)]);
        assert_eq!(t.lookup("/b"), Match::NotFound);
        assert_eq!(t.lookup("/"), Match::NotFound);
        assert_eq!(t.lookup("/ab/x"), Match::NotFound);
    }

    #[test]
    fn swap_replaces_the_whole_table() {
        let h = RouteHandle::default();
        assert!(h.load().is_empty());
        h.swap(table());
        assert_eq!(h.load().len(), 2);
    }

    #[test]
    fn hosts_and_subdomains_route_without_prefix() {
        let up = |p| Target::Upstream(SocketAddr::from(([10, 0, 0, 1], p)));
        let mut status = RouteSpec::path("", "Status", up(3));
        status.host = Some("Status.Club.Example".into());
        let t = RouteTable::with_hosts(
            [RouteSpec::path("slack", "Slack", up(1)), status],
            &HostOptions {
                subdomains_of: Some("club.example".into()),
            },
        );
        for host in [
            "slack.club.example",
            "SLACK.club.example:8080",
            "slack.club.example.",
        ] {
            match t.lookup_host(Some(host), "/a") {
                Match::Route { route, rest } => {
                    assert_eq!(route.prefix, "", "{host}");
                    assert_eq!(route.target, up(1));
                    assert_eq!(rest, "/a");
                }
                m => panic!("{host}: {m:?}"),
            }
        }
        match t.lookup_host(Some("status.club.example"), "/slack/x") {
            Match::Route { route, rest } => {
                assert_eq!(route.target, up(3));
                assert_eq!(rest, "/slack/x");
            }
            m => panic!("{m:?}"),
        }
        // The club's own host keeps path routing.
        match t.lookup_host(Some("club.example"), "/slack/x") {
            Match::Route { route, .. } => assert_eq!(route.prefix, "/slack"),
            m => panic!("{m:?}"),
        }
        assert_eq!(t.lookup_host(Some("other.example"), "/x"), Match::NotFound);
    }
}
