//! Route specs from the registry and the config: what `Control::publish_routes` hands to the
//! proxy's route table. Plain functions over plain data.

use std::collections::HashMap;

use super::Live;
use super::terms;
use crate::config::{PortalConfig, StaticRoute};
use crate::proxy::routes::{RouteSpec, RouteTable, Target};
use crate::registry::{Project, ProjectState};

/// The route table for a set of projects: running ones with a known address are forwarded, other
/// live states answer the "not running" page, and the portal keeps its reserved prefix.
pub fn build_routes(projects: &[Project], live: &HashMap<String, Live>) -> RouteTable {
    let mut specs = project_route_specs(projects, live);
    specs.extend(portal_route_specs(&PortalConfig::default(), None));
    RouteTable::new(specs)
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
pub fn static_route_specs(routes: &[StaticRoute]) -> Vec<RouteSpec> {
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
            RouteSpec {
                segment: r.segment().unwrap_or_default().to_string(),
                name,
                target,
                host: r.host.clone(),
                rewrite: r.rewrite,
            }
        })
        .collect()
}

pub(super) fn project_route_specs(
    projects: &[Project],
    live: &HashMap<String, Live>,
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
                state: s.to_string(),
                about: None,
            },
        };
        let segment = if p.is_root {
            String::new()
        } else {
            p.slug.clone()
        };
        // Rewrite on by default; a per-project switch can come from the registry later.
        specs.push(RouteSpec::path(segment, p.name.clone(), target));
    }
    specs
}
