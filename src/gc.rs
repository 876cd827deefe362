//! Orphans: Docker objects carrying this instance's labels whose project the registry no longer
//! knows (deleted while the server was down, or left by a crash). `clubhost doctor` lists them;
//! `clubhost gc` lists them too and removes them with `--apply`.
//!
//! Only objects labelled with this registry's instance id are ever considered (the `docker`
//! module's lists filter on it), so another clubhost on the same engine is never touched.

use std::collections::HashSet;

use serde::Serialize;

use crate::docker::{DockerError, Engine};

/// What `gc` found (and, with `apply`, removed).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Orphans {
    /// Container names, with their project label.
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    /// True when they were removed, false for a dry run.
    pub removed: bool,
}

impl Orphans {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }

    pub fn count(&self) -> usize {
        self.containers.len() + self.networks.len() + self.volumes.len()
    }
}

/// Finds this instance's objects whose project is not in `known`; removes them when `apply`.
pub async fn collect(
    engine: &Engine,
    known: &[String],
    apply: bool,
) -> Result<Orphans, DockerError> {
    let known: HashSet<&str> = known.iter().map(String::as_str).collect();
    let mut out = Orphans::default();

    let containers: Vec<_> = engine
        .containers(None)
        .await?
        .into_iter()
        .filter(|c| !known.contains(c.project.as_str()))
        .collect();
    // Networks and volumes are listed by name only; the ones of known projects are found through
    // their project label, so a name never decides.
    let mut keep_networks = HashSet::new();
    let mut keep_volumes = HashSet::new();
    for slug in &known {
        keep_networks.extend(engine.networks(Some(slug)).await?);
        keep_volumes.extend(engine.volumes(Some(slug)).await?);
    }
    out.networks = engine
        .networks(None)
        .await?
        .into_iter()
        .filter(|n| !keep_networks.contains(n))
        .collect();
    out.volumes = engine
        .volumes(None)
        .await?
        .into_iter()
        .filter(|v| !keep_volumes.contains(v))
        .collect();
    out.containers = containers
        .iter()
        .map(|c| format!("{} (project {})", c.name, c.project))
        .collect();
    out.networks.sort();
    out.volumes.sort();

    if apply {
        // Containers first: networks and volumes in use can't be removed.
        for c in &containers {
            engine.remove_container(&c.id).await?;
        }
        for n in &out.networks {
            engine.remove_network(n).await?;
        }
        for v in &out.volumes {
            engine.remove_volume(v).await?;
        }
        out.removed = true;
    }
    Ok(out)
}
