//! The subnets of the networks clubhost creates: allocated from `[docker] subnet_pool` for each
//! project network a deploy creates, recorded in the registry before Docker sees them, freed once
//! the network is gone, and reconciled with what Docker holds at start-up.
//!
//! A block is handed out only if it overlaps no recorded subnet (so a restart or a crash never
//! hands it out twice), no network on the engine (anyone's) and no route of the host. Records are
//! freed by sweeping: a project's rows whose network Docker no longer has go after each teardown
//! or failed deploy (under the project's lock, so never while its deploy creates one), and every
//! such row at start-up. A crash between removing a network and freeing its row therefore only
//! delays the reuse of a block.

use clubhost_deploy::{SubnetError as AllocError, Subnets};
use clubhost_docker::{DockerError, Engine};
use clubhost_registry::{RegistryError, SubnetAllocation};
use futures_util::future::BoxFuture;

use super::Control;
use crate::config::Config;
use crate::subnets::{Cidr, Usage, host_routes};

/// Why a network could not get a subnet.
#[derive(Debug, thiserror::Error)]
pub enum SubnetError {
    /// Every block of the pool is taken or overlapped.
    #[error(
        "no free /{size} subnet left in [docker] subnet_pool {pool} ({used} used by clubhost's \
         networks, {blocked} overlapped by other networks or host routes); widen subnet_pool, or \
         delete projects"
    )]
    Exhausted {
        /// `[docker] subnet_pool`.
        pool: Cidr,
        /// `[docker] subnet_size`, the prefix length of each block.
        size: u8,
        /// Blocks recorded for clubhost's own networks.
        used: u64,
        /// Blocks overlapped by other Docker networks or the host's routes.
        blocked: u64,
    },
    #[error(
        "[docker] gateway_subnet {subnet} overlaps the host's route to {route}; choose a range \
         the host does not use"
    )]
    /// The configured gateway range is one the host already routes.
    GatewayOverlapsRoute {
        /// `[docker] gateway_subnet`.
        subnet: Cidr,
        /// The host route it overlaps.
        route: Cidr,
    },
    /// Two clubhost instances on one engine with different gateway networks need different
    /// gateway subnets.
    #[error(
        "[docker] gateway_subnet {subnet} overlaps another Docker network; choose a free range \
         (each clubhost on this engine with its own gateway_network needs its own)"
    )]
    GatewayTaken {
        /// `[docker] gateway_subnet`.
        subnet: String,
    },
    /// Recording or reading allocations failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Listing the engine's networks failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// What a new subnet for `network` must not overlap: every other network's subnets on the engine
/// and the host's routes, except the routes Docker made for those networks' own bridges (already
/// counted) and for `network` itself (an existing network's block is its own). Also returns the
/// subnets `network` itself has, should it exist.
pub(crate) async fn in_the_way(
    engine: &Engine,
    network: Option<&str>,
) -> Result<(Vec<Cidr>, Vec<Cidr>), DockerError> {
    let mut own = Vec::new();
    let mut taken = Vec::new();
    for n in engine.network_subnets().await? {
        let cidrs = n.subnets.iter().filter_map(|s| s.parse::<Cidr>().ok());
        if Some(n.name.as_str()) == network {
            own.extend(cidrs);
        } else {
            taken.extend(cidrs);
        }
    }
    let routes: Vec<Cidr> = host_routes()
        .into_iter()
        .filter(|r| !own.contains(r) && !taken.contains(r))
        .collect();
    taken.extend(routes);
    Ok((taken, own))
}

/// The pool's use: clubhost's recorded blocks, and what is left once other networks and routes
/// are counted too. For `clubhost doctor`.
pub(crate) async fn usage(
    config: &Config,
    engine: &Engine,
    recorded: &[SubnetAllocation],
) -> Result<Usage, DockerError> {
    let ours: Vec<Cidr> = recorded
        .iter()
        .filter_map(|r| r.subnet.parse().ok())
        .collect();
    let (mut taken, _) = in_the_way(engine, None).await?;
    taken.extend(&ours);
    Ok(config.docker.pool().usage(&ours, &taken))
}

/// The gateway subnet must not take addresses the host routes elsewhere; Docker checks other
/// networks but not routes. Checked before clubhost creates the gateway (an existing one stays).
pub(crate) async fn check_gateway(config: &Config, engine: &Engine) -> Result<(), SubnetError> {
    let name = &config.docker.gateway_network;
    let networks = engine.network_subnets().await?;
    if networks.iter().any(|n| &n.name == name) {
        return Ok(());
    }
    let subnet = config.docker.gateway_subnet();
    let docker: Vec<Cidr> = networks
        .iter()
        .flat_map(|n| n.subnets.iter().filter_map(|s| s.parse().ok()))
        .collect();
    match host_routes()
        .into_iter()
        .find(|r| r.overlaps(&subnet) && !docker.contains(r))
    {
        Some(route) => Err(SubnetError::GatewayOverlapsRoute { subnet, route }),
        None => Ok(()),
    }
}

/// The allocator one deploy of one project uses.
pub(super) struct Allocator<'a> {
    pub(crate) control: &'a Control,
    pub(crate) engine: &'a Engine,
    pub(crate) slug: &'a str,
}

impl Subnets for Allocator<'_> {
    fn subnet_for<'a>(
        &'a self,
        network: &'a str,
        refused: &'a [String],
    ) -> BoxFuture<'a, Result<String, AllocError>> {
        Box::pin(async move {
            self.control
                .allocate_subnet(self.engine, self.slug, network, refused)
                .await
                .map_err(|e| Box::new(e) as AllocError)
        })
    }
}

impl Control {
    /// The subnet `network` of project `slug` is to be created with: the one recorded for it if
    /// still clear, else the lowest free block of the pool.
    async fn allocate_subnet(
        &self,
        engine: &Engine,
        slug: &str,
        network: &str,
        refused: &[String],
    ) -> Result<String, SubnetError> {
        let pool = self.config.docker.pool();
        let (mut taken, own) = in_the_way(engine, Some(network)).await?;
        taken.extend(refused.iter().filter_map(|s| s.parse::<Cidr>().ok()));
        // The network exists already (the deploy will keep it): its subnet is the one to record,
        // wherever it came from.
        let existing = own.first().map(Cidr::to_string);
        let mut counts = (0, 0);
        let chosen = self
            .registry
            .allocate_subnet(network, Some(slug), |current, others| {
                if existing.is_some() {
                    return existing;
                }
                let current = current.and_then(|c| c.parse::<Cidr>().ok());
                if let Some(c) = current
                    && pool.holds(&c)
                    && !taken.iter().any(|t| t.overlaps(&c))
                {
                    return Some(c.to_string());
                }
                let ours: Vec<Cidr> = others.iter().filter_map(|s| s.parse().ok()).collect();
                let free = pool.first_free(&[taken.as_slice(), &ours].concat());
                if free.is_none() {
                    let usage = pool.usage(&ours, &[taken.as_slice(), &ours].concat());
                    counts = (usage.used, usage.total - usage.used - usage.free);
                }
                free.map(|f| f.to_string())
            })
            .await?;
        chosen.ok_or(SubnetError::Exhausted {
            pool: pool.pool,
            size: pool.size,
            used: counts.0,
            blocked: counts.1,
        })
    }

    /// Frees the recorded subnets of `slug`'s networks that Docker no longer has (after a
    /// teardown or a failed deploy). A failure is logged: the rows stay until the next sweep, which
    /// only delays reuse.
    pub(super) async fn release_subnets(&self, engine: &Engine, slug: &str) {
        let swept = async {
            let existing = engine.networks(Some(slug)).await?;
            let gone: Vec<String> = self
                .registry
                .subnets()
                .await?
                .into_iter()
                .filter(|r| r.project.as_deref() == Some(slug) && !existing.contains(&r.network))
                .map(|r| r.network)
                .collect();
            self.registry.free_subnets(&gone).await?;
            Ok::<_, SubnetError>(())
        };
        if let Err(e) = swept.await {
            tracing::warn!(%slug, error = %e, "cannot free subnets; start-up will");
        }
    }

    /// At start-up: frees rows whose network is gone, and records our networks Docker holds with
    /// the subnets Docker gave them (networks made before clubhost chose subnets, the gateway),
    /// so they are kept, never re-created, and their blocks never handed out.
    pub(super) async fn sync_subnets(&self, engine: &Engine) -> Result<(), SubnetError> {
        let gateway = &self.config.docker.gateway_network;
        let found: Vec<SubnetAllocation> = engine
            .network_subnets()
            .await?
            .into_iter()
            .filter(|n| n.ours || &n.name == gateway)
            .filter_map(|n| {
                // One IPv4 subnet per bridge network; IPv6 ones are not from any pool of ours.
                let subnet = n.subnets.iter().find(|s| s.parse::<Cidr>().is_ok())?;
                Some(SubnetAllocation {
                    subnet: subnet.clone(),
                    project: n.project.clone().filter(|_| &n.name != gateway),
                    network: n.name,
                })
            })
            .collect();
        let gone: Vec<String> = self
            .registry
            .subnets()
            .await?
            .into_iter()
            .filter(|r| !found.iter().any(|f| f.network == r.network))
            .map(|r| r.network)
            .collect();
        self.registry.free_subnets(&gone).await?;
        let recorded = self.registry.subnets().await?;
        let new: Vec<SubnetAllocation> = found
            .into_iter()
            .filter(|f| !recorded.contains(f))
            .collect();
        for f in &new {
            tracing::info!(network = %f.network, subnet = %f.subnet, "recording existing network");
        }
        self.registry.record_subnets(&new).await?;
        Ok(())
    }
}
