//! Route specs from the registry and the config: what `Control::publish_routes` hands to the
//! proxy's route table. Plain functions over plain data.

use std::collections::{BTreeMap, HashMap};

use super::Live;
use super::terms;
use crate::config::{PortalConfig, ProxyConfig, RouteOverrides, StaticRoute};
use clubhost_proxy::routes::{RouteLimits, RouteSpec, RouteTable, Target};

/// `[proxy.overrides]`: per-route limits by slug, static path segment or host.
pub type Overrides = BTreeMap<String, RouteOverrides>;
use clubhost_registry::{Project, ProjectState};

/// The route table for a set of projects: running ones with a known address are forwarded, other
/// live states answer the "not running" page, and the portal keeps its reserved prefix.
pub fn build_routes(projects: &[Project], live: &HashMap<String, Live>) -> RouteTable {
    let mut specs = project_route_specs(projects, live, &Overrides::new());
    specs.extend(portal_route_specs(&PortalConfig::default(), None));
    RouteTable::new(specs)
}

/// The routing the config contributes: static routes as specs (overrides already applied) and the
/// overrides for project routes. Replaced whole on SIGHUP.
pub(super) struct Routing {
    pub statics: Vec<RouteSpec>,
    pub overrides: Overrides,
}

impl Routing {
    pub fn from_config(proxy: &ProxyConfig) -> Routing {
        // Host names compare without case; slugs and path segments are lowercase already.
        let overrides: Overrides = proxy
            .overrides
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect();
        Routing {
            statics: static_route_specs(&proxy.routes, &overrides),
            overrides,
        }
    }
}

/// Applies the override for `key` (if any) to a route spec.
fn apply_overrides(mut spec: RouteSpec, key: &str, overrides: &Overrides) -> RouteSpec {
    if let Some(o) = overrides.get(key) {
        spec.limits = RouteLimits {
            max_body_size: o.max_body_size,
            response_header_timeout: o.response_header_timeout,
        };
        if let Some(rewrite) = o.rewrite {
            spec.rewrite = rewrite;
        }
    }
    spec
}

/// The portal's routes: its path segment (`[portal] path`) and, with subdomains on,
/// `portal.<domain>`. They go after the projects' so the portal wins over a project that took its
/// segment before the path was configured.
pub fn portal_route_specs(portal: &PortalConfig, subdomains_of: Option<&str>) -> Vec<RouteSpec> {
    let mut specs = vec![RouteSpec::path(portal.segment(), "Portal", Target::Portal)];
    if let Some(domain) = subdomains_of {
        // "portal" is a reserved slug, so no project's subdomain can be this host.
        let mut host = RouteSpec::path("", "Portal", Target::Portal);
        host.host = Some(format!("portal.{domain}"));
        host.rewrite = false;
        specs.push(host);
    }
    specs
}

/// `[[proxy.routes]]` as route specs. Config validation checked them; an upstream whose name no
/// longer resolves answers 503 instead of failing the whole table.
pub fn static_route_specs(routes: &[StaticRoute], overrides: &Overrides) -> Vec<RouteSpec> {
    routes
        .iter()
        .map(|r| {
            let target = match r.upstream_addr() {
                Ok(addr) => Target::Upstream(addr),
                Err(e) => {
                    tracing::warn!(error = %e, "static route upstream unusable");
                    Target::Unavailable {
                        state: "unreachable".into(),
                        about: None,
                    }
                }
            };
            let name = r
                .name
                .clone()
                .or_else(|| r.host.clone())
                .or_else(|| r.path.clone())
                .unwrap_or_default();
            let key = r
                .host
                .as_deref()
                .or(r.segment())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let spec = RouteSpec {
                segment: r.segment().unwrap_or_default().to_string(),
                name,
                target,
                host: r.host.clone(),
                rewrite: r.rewrite,
                limits: RouteLimits::default(),
            };
            apply_overrides(spec, &key, overrides)
        })
        .collect()
}

pub(super) fn project_route_specs(
    projects: &[Project],
    live: &HashMap<String, Live>,
    overrides: &Overrides,
) -> Vec<RouteSpec> {
    let mut specs = Vec::new();
    for p in projects {
        let state = p.state();
        if matches!(state, ProjectState::Rejected | ProjectState::Withdrawn) {
            continue;
        }
        let target = match (state, live.get(&p.slug)) {
            // While a redeploy runs, the previous deployment keeps serving.
            (ProjectState::Running | ProjectState::Deploying, Some(l)) if l.up => {
                Target::Upstream(l.addr)
            }
            (ProjectState::Running, Some(_)) => Target::Unavailable {
                state: "restarting".into(),
                about: None,
            },
            (ProjectState::Running, None) => Target::Unavailable {
                state: "starting".into(),
                about: None,
            },
            // Expired projects stay findable: the page says what it was and whose.
            (s @ (ProjectState::Expired | ProjectState::Purged), _) => Target::Unavailable {
                state: "expired".into(),
                about: Some(terms::expired_about(p, s)),
            },
            (s, _) => Target::Unavailable {
                state: match s {
                    // "This project is … right now." reads as words, not state names.
                    ProjectState::Requested
                    | ProjectState::ChangesRequested
                    | ProjectState::Approved => "waiting for approval".into(),
                    ProjectState::Deploying => "starting".into(),
                    other => other.to_string(),
                },
                about: None,
            },
        };
        let segment = if p.is_root {
            String::new()
        } else {
            p.slug.clone()
        };
        // Rewrite on by default; `[proxy.overrides.<slug>] rewrite = false` switches it off.
        let spec = RouteSpec::path(segment, p.name.clone(), target);
        specs.push(apply_overrides(spec, &p.slug, overrides));
    }
    specs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn overrides_reach_static_and_project_routes_by_key() {
        let config = Config::parse(
            "[[proxy.routes]]\npath = \"/status\"\nupstream = \"http://127.0.0.1:9000\"\n\
             [[proxy.routes]]\nhost = \"grafana.club.example\"\nupstream = \"http://127.0.0.1:3000\"\n\
             [proxy.overrides.status]\nmax_body_size = \"1KiB\"\nrewrite = false\n\
             [proxy.overrides.\"Grafana.Club.Example\"]\nresponse_header_timeout = \"2m\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let routing = Routing::from_config(&config.proxy);
        let status = &routing.statics[0];
        assert_eq!(status.limits.max_body_size, Some(1024));
        assert!(!status.rewrite);
        let grafana = &routing.statics[1];
        assert_eq!(
            grafana.limits.response_header_timeout,
            Some(std::time::Duration::from_secs(120))
        );
        assert_eq!(grafana.limits.max_body_size, None);
        // A project route takes the override keyed by its slug; others keep the defaults.
        let spec = apply_overrides(
            RouteSpec::path("status", "S", Target::Portal),
            "status",
            &routing.overrides,
        );
        assert_eq!(spec.limits.max_body_size, Some(1024));
        let spec = apply_overrides(
            RouteSpec::path("blog", "B", Target::Portal),
            "blog",
            &routing.overrides,
        );
        assert_eq!(spec.limits, RouteLimits::default());
        assert!(spec.rewrite);
    }
}
