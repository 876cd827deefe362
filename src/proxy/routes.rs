//! The route table: which prefix goes where. One immutable value, built whole from plain data and
//! swapped atomically; the proxy reads it without locks and a lookup allocates nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

/// Where a route's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A running project: forward to this address on the gateway.
    Upstream(SocketAddr),
    /// Known but not serving (starting, stopped, expired, failed): answer 503 saying so.
    /// `about` describes an expired project (description, owner) so the portfolio stays findable.
    Unavailable {
        state: String,
        about: Option<String>,
    },
    /// Handled inside clubhost (the portal).
    Portal,
}

/// One route, as the table builder receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// The first path segment it owns (`slack` for `/slack/...`); empty for the root project.
    pub segment: String,
    /// Shown on error pages.
    pub name: String,
    pub target: Target,
}

#[derive(Debug)]
pub struct Route {
    pub name: String,
    /// `/slack`, or empty for the root route: what is stripped and announced as X-Forwarded-Prefix.
    pub prefix: String,
    pub target: Target,
}

/// The result of a lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum Match<'a> {
    /// Forward with `rest` as the upstream path (always starts with `/`).
    Route {
        route: &'a Route,
        rest: &'a str,
    },
    /// `/slack` without the slash: redirect to `/slack/` so relative links resolve.
    AddSlash,
    NotFound,
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.prefix == other.prefix && self.target == other.target
    }
}
impl Eq for Route {}

#[derive(Debug, Default)]
pub struct RouteTable {
    by_segment: HashMap<String, Route>,
    root: Option<Route>,
}

impl RouteTable {
    pub fn new(specs: impl IntoIterator<Item = RouteSpec>) -> RouteTable {
        let mut table = RouteTable::default();
        for spec in specs {
            let route = Route {
                name: spec.name,
                prefix: if spec.segment.is_empty() {
                    String::new()
                } else {
                    format!("/{}", spec.segment)
                },
                target: spec.target,
            };
            if spec.segment.is_empty() {
                table.root = Some(route);
            } else {
                table.by_segment.insert(spec.segment, route);
            }
        }
        table
    }

    pub fn len(&self) -> usize {
        self.by_segment.len() + usize::from(self.root.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every route, for listings.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.root.iter().chain(self.by_segment.values())
    }

    /// Finds the route for a request path. Prefixes match whole segments only: `/slack` owns
    /// `/slack` and `/slack/...`, never `/slackers`.
    pub fn lookup<'a>(&'a self, path: &'a str) -> Match<'a> {
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
    pub fn load(&self) -> arc_swap::Guard<Arc<RouteTable>> {
        self.0.load()
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
            RouteSpec {
                segment: "slack".into(),
                name: "Slack".into(),
                target: up(1),
            },
            RouteSpec {
                segment: "".into(),
                name: "Home".into(),
                target: up(2),
            },
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
        let t = RouteTable::new([RouteSpec {
            segment: "a".into(),
            name: "A".into(),
            target: Target::Portal,
        }]);
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
}
