//! Route specs from the registry and the config, and `Control::publish_routes`, the one place
//! the proxy's route table is rebuilt and swapped. The spec builders are plain functions over
//! plain data.

use std::collections::{BTreeMap, HashMap};

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::terms;
use super::{Control, Live, Result};
use crate::config::{PortalConfig, ProxyConfig, RouteOverrides, StaticRoute};
use clubhost_proxy::routes::{HostOptions, RouteLimits, RouteSpec, RouteTable, Target};

/// `[proxy.overrides]`: per-route limits by slug, static path segment or host.
pub(crate) type Overrides = BTreeMap<String, RouteOverrides>;
use clubhost_registry::domains::Domain;
use clubhost_registry::{Project, ProjectState};

/// The route table for a set of projects: running ones with a known address are forwarded, other
/// live states answer the "not running" page, and the portal keeps its reserved prefix.
pub fn build_routes(projects: &[Project], live: &HashMap<String, Live>) -> RouteTable {
    let portal = format!("{}/", PortalConfig::default().base());
    let mut specs = project_route_specs(projects, live, &Overrides::new(), &[], &portal);
    specs.extend(portal_route_specs(&PortalConfig::default(), None));
    RouteTable::new(specs)
}

/// The routing the config contributes: static routes as specs (overrides already applied) and the
/// overrides for project routes. Replaced whole on SIGHUP.
pub(super) struct Routing {
    pub(crate) statics: Vec<RouteSpec>,
    pub(crate) overrides: Overrides,
}

impl Routing {
    pub(crate) fn from_config(proxy: &ProxyConfig) -> Routing {
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
            max_conns: o.max_conns_per_route,
            max_waiting: o.max_waiting_per_route,
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

/// `portal`: where the expired page links its owner to the project's backups (the portal's own
/// host, or its path on any club host).
pub(super) fn project_route_specs(
    projects: &[Project],
    live: &HashMap<String, Live>,
    overrides: &Overrides,
    domains: &[Domain],
    portal: &str,
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
                about: Some(terms::expired_about(p, s, portal)),
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
        let spec = apply_overrides(
            RouteSpec::path(segment, p.name.clone(), target),
            &p.slug,
            overrides,
        );
        // The project's verified domains: the same route at the root of each name.
        for d in domains
            .iter()
            .filter(|d| d.project == p.slug && d.verified_at.is_some())
        {
            let mut host = spec.clone();
            host.host = Some(d.name.clone());
            specs.push(host);
        }
        specs.push(spec);
    }
    specs
}

/// The numbering of route publications (see `Control::publish_routes`).
#[derive(Default)]
pub(super) struct Publications {
    /// The last number handed out.
    taken: AtomicU64,
    /// The number of the table being served; swaps happen under this lock.
    served: Mutex<u64>,
}

impl Control {
    /// Rebuilds the route table from the registry and swaps it in whole.
    ///
    /// Publications may run at once (a deploy finishing while an admin expires another project).
    /// Each takes a number before it reads the registry, and swaps its table in only if no later
    /// number's table was swapped in already: a later number read the registry later, so the newest
    /// view always wins and a slow publisher can never put a stale table back.
    pub(crate) async fn publish_routes(&self) -> Result<()> {
        self.publish_routes_after(async {}).await
    }

    /// [`Control::publish_routes`], waiting for `before_swap` between reading and swapping (tests
    /// use it to make a publisher slow at the worst moment).
    pub(crate) async fn publish_routes_after(
        &self,
        before_swap: impl std::future::Future<Output = ()>,
    ) -> Result<()> {
        let number = self.publications.taken.fetch_add(1, Ordering::SeqCst) + 1;
        let table = self.current_route_table().await?;
        before_swap.await;
        let mut served = self
            .publications
            .served
            .lock()
            .expect("publications poisoned");
        if number > *served {
            *served = number;
            self.routes.swap(table);
        }
        Ok(())
    }

    async fn current_route_table(&self) -> Result<RouteTable> {
        let projects = self.registry.projects().await?;
        let domains = self.registry.domains(None).await?;
        let live = self.live.lock().expect("live map poisoned").clone();
        let config = self.config();
        let subdomains_of = config.proxy.subdomains.then_some(config.domain.as_str());
        let portal = config.portal_link();
        let specs = {
            let routing = self.routing.lock().expect("routing poisoned");
            let mut specs =
                project_route_specs(&projects, &live, &routing.overrides, &domains, &portal);
            specs.extend(portal_route_specs(&config.portal, subdomains_of));
            // Static routes come last: an operator's route wins over a project with the same path.
            specs.extend(routing.statics.iter().cloned());
            specs
        };
        let hosts = HostOptions {
            subdomains_of: subdomains_of.map(str::to_string),
        };
        // Pending domains' proof tokens are answered by the proxy until they pass.
        let proofs = domains
            .into_iter()
            .filter(|d| d.verified_at.is_none())
            .map(|d| d.token);
        Ok(RouteTable::with_hosts(specs, &hosts).with_domain_proofs(proofs))
    }

    /// Takes the `[[proxy.routes]]` and `[proxy.overrides]` of a freshly re-read config (SIGHUP)
    /// and republishes.
    pub async fn reload_routing(&self, proxy: &ProxyConfig) -> Result<()> {
        *self.routing.lock().expect("routing poisoned") = Routing::from_config(proxy);
        self.publish_routes().await
    }

    /// The routes being served now, as (prefix, name, target), for the portal's routes dashboard.
    pub fn served_routes(&self) -> Vec<(String, String, Target)> {
        self.routes
            .load()
            .routes()
            .map(|r| (r.prefix.clone(), r.name.clone(), r.target.clone()))
            .collect()
    }
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

    /// Two publishers race: the first reads the registry and config before a reload adds a static
    /// route, the reload publishes, then the first swaps. Without the numbering the first one's
    /// older table would replace the newer one and stay until the next publication.
    #[tokio::test]
    async fn a_slow_publisher_never_puts_an_older_table_back() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let handle = clubhost_proxy::routes::RouteHandle::default();
        let c = Control::open(std::sync::Arc::new(config), handle.clone())
            .await
            .unwrap();
        let reloaded = Config::parse(
            "[[proxy.routes]]\npath = \"/status\"\nupstream = \"http://127.0.0.1:9000\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let (read_tx, read_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let slow = c.publish_routes_after(async move {
            read_tx.send(()).unwrap();
            release_rx.await.unwrap();
        });
        let reload = async {
            read_rx.await.unwrap();
            c.reload_routing(&reloaded.proxy).await.unwrap();
            release_tx.send(()).unwrap();
        };
        let (slow, ()) = tokio::join!(slow, reload);
        slow.unwrap();
        let served: Vec<String> = handle.load().routes().map(|r| r.prefix.clone()).collect();
        assert!(
            served.iter().any(|p| p == "/status"),
            "the reload's route was replaced by the older table: {served:?}"
        );
    }
}
