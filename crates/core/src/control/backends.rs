//! Which [`Backend`] runs projects (`[docker] mode`, docs/scale-out.md), and in swarm mode the
//! proxy's [`Dialer`]: new upstream connections to a swarm service's address are made from the
//! anchor's network namespace to one of its running tasks, round-robin. The rest of `Control`
//! asks [`Control::backend`] and does not know which one it got.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use clubhost_deploy::{Backend, EngineBackend, SwarmBackend};
use clubhost_proxy::{Dialer, Dialing};

use super::{Control, Result};
use crate::config::DockerMode;

/// How often the exposed services' task lists are re-read in swarm mode.
const REFRESH: Duration = Duration::from_secs(2);

/// The swarm backend once made, shared by `Control` and the proxy's dialer.
#[derive(Default)]
pub struct SwarmLink {
    backend: OnceLock<Arc<SwarmBackend>>,
}

impl Dialer for SwarmLink {
    fn dial(&self, addr: SocketAddr) -> Option<Dialing> {
        let backend = self.backend.get()?.clone();
        let target = backend.pick(addr)?;
        Some(Box::pin(async move {
            let Some(target) = target else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "the service has no running task",
                ));
            };
            // The proxy bounds the whole connect with its own connect_timeout.
            backend.connect(target, Duration::from_secs(3600)).await
        }))
    }
}

impl Control {
    /// Whether projects run as Swarm services.
    pub fn swarm_mode(&self) -> bool {
        self.config.docker.mode == DockerMode::Swarm
    }

    /// The proxy's dialer in swarm mode; `None` in engine mode (plain connects).
    pub fn dialer(&self) -> Option<Arc<dyn Dialer>> {
        self.swarm_mode()
            .then(|| self.swarm.clone() as Arc<dyn Dialer>)
    }

    /// What deploys, observes and tears down projects, as `[docker] mode` says.
    pub(crate) async fn backend(&self) -> Result<Arc<dyn Backend>> {
        let engine = self.engine().await?;
        if !self.swarm_mode() {
            return Ok(Arc::new(EngineBackend(engine.clone())));
        }
        if let Some(b) = self.swarm.backend.get() {
            return Ok(b.clone());
        }
        let docker = &self.config.docker;
        let made = Arc::new(SwarmBackend::new(
            engine.clone(),
            &format!("clubhost-anchor-{}", self.instance),
            &docker.anchor_image,
            &docker.gateway_network,
            &docker.gateway_subnet,
        ));
        // The anchor and its namespace now, so a broken setup is reported before any deploy.
        made.namespace().await?;
        if self.swarm.backend.set(made).is_ok() {
            let weak = Arc::downgrade(self.swarm.backend.get().expect("just set"));
            tokio::spawn(follow_tasks(weak));
        }
        Ok(self.swarm.backend.get().expect("set").clone())
    }
}

/// Re-reads the exposed services' tasks every [`REFRESH`] until the backend is dropped.
async fn follow_tasks(backend: Weak<SwarmBackend>) {
    loop {
        tokio::time::sleep(REFRESH).await;
        let Some(b) = backend.upgrade() else { return };
        b.refresh().await;
    }
}
