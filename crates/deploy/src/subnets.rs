//! Where a deploy gets the subnet of each network it creates. The caller allocates them (the
//! control plane records them in the registry, which this crate never writes); the deploy asks
//! for one per network and, should Docker refuse it because something took an overlapping range
//! since it was chosen, asks again with the refused one named.

use futures_util::future::BoxFuture;

use clubhost_docker::{DockerError, Engine};

use super::DeployError;

/// How many refused subnets one network may meet before the deploy gives up: each refusal means
/// a network appeared since the choice, so more than a few means something keeps taking them.
const MAX_REFUSALS: usize = 4;

/// The error an allocator gives (a pool exhausted, the registry unreachable); its message is
/// shown as the deploy's failure reason.
pub type SubnetError = Box<dyn std::error::Error + Send + Sync>;

/// The caller's subnet allocator.
pub trait Subnets: Sync {
    /// The subnet (CIDR) to create `network` with, none of `refused` (Docker refused each for
    /// this network just now). Asking twice for one network gives the same subnet unless it was
    /// refused.
    fn subnet_for<'a>(
        &'a self,
        network: &'a str,
        refused: &'a [String],
    ) -> BoxFuture<'a, Result<String, SubnetError>>;
}

/// Creates a project network with an allocated subnet if missing; returns whether it was created
/// now.
pub(crate) async fn ensure_network(
    engine: &Engine,
    subnets: &dyn Subnets,
    slug: &str,
    network: &str,
) -> Result<bool, DeployError> {
    let mut refused = Vec::new();
    loop {
        let subnet = subnets
            .subnet_for(network, &refused)
            .await
            .map_err(|source| DeployError::Subnet {
                network: network.to_string(),
                source,
            })?;
        match engine.ensure_project_network(network, slug, &subnet).await {
            Err(DockerError::SubnetTaken { subnet, .. }) if refused.len() < MAX_REFUSALS => {
                tracing::info!(%network, %subnet, "subnet taken meanwhile; choosing another");
                refused.push(subnet);
            }
            other => return Ok(other?),
        }
    }
}
