//! `[docker]`: the engine clubhost drives, the gateway network, deploy timing, and the address
//! pool its networks' subnets come from (see `crate::subnets` for why clubhost picks them).

use std::time::Duration;

use serde::Deserialize;

use super::humantime_serde_compat;
use crate::subnets::{Cidr, Pool, usable_hosts};

/// `[docker]`: the engine projects run on, and the address ranges clubhost gives their networks.
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
    /// After a redeploy, how long the previous deployment keeps running so requests in flight
    /// finish before its containers are removed.
    #[serde(with = "humantime_serde_compat")]
    pub drain_timeout: Duration,
    /// The IPv4 range every project network's subnet is cut from, instead of Docker's default
    /// pools (which run out after about 30 networks).
    pub(crate) subnet_pool: String,
    /// The prefix length of each project network's subnet: a /27 holds 29 containers, enough for
    /// a stack at `limits.max_services` twice over (a redeploy runs beside the old deployment).
    pub(crate) subnet_size: u8,
    /// The gateway network's subnet, used when clubhost creates it (an existing gateway keeps
    /// its own). Larger than a project's, since every exposed container joins it. Inside the
    /// pool it is reserved (the default takes the pool's first /22), so one range covers both.
    pub(crate) gateway_subnet: String,
    /// `engine` (containers on this Docker engine) or `swarm` (Swarm services; this engine must
    /// be a swarm manager; docs/scale-out.md).
    pub mode: DockerMode,
    /// Swarm mode: the image of the anchor container whose network namespace the proxy's
    /// sockets to tasks are made in. It only runs `sleep`; present on the manager or pullable.
    pub anchor_image: String,
}

/// What runs projects: `[docker] mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DockerMode {
    /// Containers on the one engine (the default).
    #[default]
    Engine,
    /// Swarm services, on a swarm whose manager is this engine.
    Swarm,
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            host: None,
            gateway_network: "clubhost-gateway".into(),
            deploy_timeout: Duration::from_secs(120),
            drain_timeout: Duration::from_secs(5),
            subnet_pool: "10.213.0.0/16".into(),
            subnet_size: 27,
            gateway_subnet: "10.213.0.0/22".into(),
            mode: DockerMode::Engine,
            anchor_image: "busybox:stable".into(),
        }
    }
}

impl DockerConfig {
    /// Refuses settings that could not work, naming the key: `max_services` is `[limits]`'s, since
    /// a block must hold a whole stack twice.
    pub(super) fn check(&self, max_services: usize) -> Result<(), String> {
        if self.mode == DockerMode::Swarm && self.anchor_image.trim().is_empty() {
            return Err("key `docker.anchor_image`: must name an image in swarm mode".into());
        }
        if self.gateway_network.is_empty() {
            return Err("key `docker.gateway_network`: must not be empty".into());
        }
        let pool: Cidr = self
            .subnet_pool
            .parse()
            .map_err(|e| format!("key `docker.subnet_pool`: {e}"))?;
        let gateway: Cidr = self
            .gateway_subnet
            .parse()
            .map_err(|e| format!("key `docker.gateway_subnet`: {e}"))?;
        if self.subnet_size > 29 || self.subnet_size < pool.prefix() {
            return Err(format!(
                "key `docker.subnet_size`: /{} must be between the pool's own size (/{} for \
                 docker.subnet_pool {pool}) and /29",
                self.subnet_size,
                pool.prefix()
            ));
        }
        // Two deployments of a stack run side by side during a redeploy.
        let needed = 2 * max_services as u64;
        if usable_hosts(self.subnet_size) < needed {
            return Err(format!(
                "key `docker.subnet_size`: a /{} holds {} containers, but a redeploy of a stack \
                 with limits.max_services = {max_services} runs {needed}; use a /{} or smaller \
                 prefix",
                self.subnet_size,
                usable_hosts(self.subnet_size),
                (pool.prefix()..self.subnet_size)
                    .rev()
                    .find(|p| usable_hosts(*p) >= needed)
                    .unwrap_or(pool.prefix())
            ));
        }
        if gateway.prefix() > 29 {
            return Err(format!(
                "key `docker.gateway_subnet`: {gateway} is too small for a gateway network"
            ));
        }
        if gateway.overlaps(&pool) && !pool.contains(&gateway) {
            return Err(format!(
                "key `docker.gateway_subnet`: {gateway} must lie wholly inside or wholly outside \
                 docker.subnet_pool {pool}"
            ));
        }
        if self.pool().first_free(&[]).is_none() {
            return Err(format!(
                "key `docker.gateway_subnet`: {gateway} leaves no room in docker.subnet_pool \
                 {pool}"
            ));
        }
        Ok(())
    }

    /// The pool project networks' subnets come from (the gateway's subnet reserved when inside).
    /// The config was validated when loaded, so these parse.
    pub(crate) fn pool(&self) -> Pool {
        let pool: Cidr = self.subnet_pool.parse().expect("validated subnet_pool");
        let gateway = self.gateway_subnet();
        Pool {
            pool,
            size: self.subnet_size,
            reserved: if pool.overlaps(&gateway) {
                vec![gateway]
            } else {
                Vec::new()
            },
        }
    }

    pub(crate) fn gateway_subnet(&self) -> Cidr {
        self.gateway_subnet
            .parse()
            .expect("validated gateway_subnet")
    }
}
