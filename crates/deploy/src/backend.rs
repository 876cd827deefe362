//! The seam between the control plane and what runs projects (docs/scale-out.md): a [`Backend`]
//! deploys a stack, finds a running deployment again after a restart, retires old deployments
//! and tears a project down. [`EngineBackend`] is the plain Docker engine (the functions of this
//! crate, unchanged); `SwarmBackend` runs the same plans as Swarm services. A Kubernetes backend
//! would be a third implementation; the control plane only ever holds a `dyn Backend`.

use std::net::SocketAddr;

use clubhost_docker::{DockerError, Engine};
use clubhost_stack::Stack;
use futures_util::future::BoxFuture;

use super::{DeployError, DeployRequest};

/// Which deployments [`Backend::remove_deployments`] removes.
pub type Which<'a> = &'a (dyn Fn(i64) -> bool + Send + Sync);

/// What runs a project's services.
pub trait Backend: Send + Sync {
    /// `engine` or `swarm`, for logs and the doctor.
    fn kind(&self) -> &'static str;

    /// Deploys a stack; on success the address the proxy sends the exposed service's visitors
    /// to. On failure what this deploy created is removed before the error is returned.
    fn deploy<'a>(
        &'a self,
        req: &'a DeployRequest<'a>,
    ) -> BoxFuture<'a, Result<SocketAddr, DeployError>>;

    /// After a restart: the newest complete deployment of the project and its exposed address,
    /// found without touching anything.
    fn observe<'a>(
        &'a self,
        slug: &'a str,
        stack: &'a Stack,
        gateway: &'a str,
    ) -> BoxFuture<'a, Result<Option<(i64, SocketAddr)>, DockerError>>;

    /// Removes the deployments of a project `which` selects (failures are logged).
    fn remove_deployments<'a>(&'a self, slug: &'a str, which: Which<'a>) -> BoxFuture<'a, ()>;

    /// Removes everything of a project but its volumes (and those too with `purge`).
    fn teardown<'a>(&'a self, slug: &'a str, purge: bool)
    -> BoxFuture<'a, Result<(), DockerError>>;
}

/// The plain Docker engine: containers, bridge networks, the gateway bridge.
#[derive(Clone)]
pub struct EngineBackend(pub Engine);

impl Backend for EngineBackend {
    fn kind(&self) -> &'static str {
        "engine"
    }

    fn deploy<'a>(
        &'a self,
        req: &'a DeployRequest<'a>,
    ) -> BoxFuture<'a, Result<SocketAddr, DeployError>> {
        Box::pin(super::deploy(&self.0, req))
    }

    fn observe<'a>(
        &'a self,
        slug: &'a str,
        stack: &'a Stack,
        gateway: &'a str,
    ) -> BoxFuture<'a, Result<Option<(i64, SocketAddr)>, DockerError>> {
        Box::pin(super::observe(&self.0, slug, stack, gateway))
    }

    fn remove_deployments<'a>(&'a self, slug: &'a str, which: Which<'a>) -> BoxFuture<'a, ()> {
        Box::pin(super::remove_deployments(&self.0, slug, which))
    }

    fn teardown<'a>(
        &'a self,
        slug: &'a str,
        purge: bool,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        Box::pin(super::teardown(&self.0, slug, purge))
    }
}
