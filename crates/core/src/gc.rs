//! Orphans: Docker objects carrying this instance's labels whose project the registry no longer
//! knows (deleted while the server was down, or left by a crash). `clubhost doctor` lists them;
//! `clubhost gc` lists them too and removes them with `--apply`.
//!
//! Only objects labelled with this registry's instance id are ever considered (the `docker`
//! module's lists filter on it), so another clubhost on the same engine is never touched.
//!
//! `clubhost gc --images` also prunes images no project needs any more: only references a deploy
//! of this registry used (`deployed_images`), that no project which may still deploy names (by
//! reference or by image id), while they still name the image recorded at that deploy; Docker
//! itself keeps any image a container uses.
//!
//! It also lists (and with `--apply` removes) projects' revision folders past `[build]
//! keep_revisions` (`control::revisions`; never the deployed or the pending one).

use std::collections::HashSet;

use serde::Serialize;

use clubhost_docker::{DockerError, Engine, ImageRemoval};
use clubhost_registry::DeployedImage;

/// What `gc` found (and, with `apply`, removed).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Orphans {
    /// Container names, with their project label.
    pub(crate) containers: Vec<String>,
    pub(crate) networks: Vec<String>,
    pub(crate) volumes: Vec<String>,
    /// With `--images`: image references no project needs (removed, or to be removed).
    pub(crate) images: Vec<String>,
    /// With `--images`: unneeded references left alone, each with why ("in use by a container").
    pub(crate) kept_images: Vec<String>,
    /// Old revisions of projects' files past `[build] keep_revisions` (`<slug>/<n>`):
    /// removed, or to be removed.
    pub(crate) revisions: Vec<String>,
    /// True when they were removed, false for a dry run.
    pub(crate) removed: bool,
}

impl Orphans {
    pub(crate) fn is_empty(&self) -> bool {
        self.count() == 0
    }

    pub(crate) fn count(&self) -> usize {
        self.containers.len()
            + self.networks.len()
            + self.volumes.len()
            + self.images.len()
            + self.revisions.len()
    }
}

/// What [`prune_images`] found and did.
#[derive(Debug, Default, Clone)]
pub(crate) struct ImagePrune {
    /// References no project needs: removed with `apply`, else to be removed.
    pub(crate) unused: Vec<String>,
    /// Unneeded references left alone, with the reason.
    pub(crate) kept: Vec<String>,
    /// Records to drop from the registry: removed, gone, or no longer naming our image.
    pub(crate) forget: Vec<String>,
}

/// Finds this instance's objects whose project is not in `known`; removes them when `apply`.
pub(crate) async fn collect(
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

/// Of the `recorded` images, finds those no project needs (`needed` references, compared in
/// Docker's full form, so `busybox` and `docker.io/library/busybox:latest` are one) and, with
/// `apply`, removes them. Removing a reference only untags it while another tag names the same
/// image; it is never forced, so Docker keeps an image a container uses (reported in `kept`).
pub(crate) async fn prune_images(
    engine: &Engine,
    recorded: &[DeployedImage],
    needed: &[String],
    apply: bool,
) -> Result<ImagePrune, DockerError> {
    let needed: HashSet<String> = needed.iter().map(|r| full_reference(r)).collect();
    let mut out = ImagePrune::default();
    for r in recorded {
        if needed.contains(&full_reference(&r.image)) {
            continue;
        }
        let outcome = if apply {
            engine.remove_image(&r.image, &r.image_id).await?
        } else {
            match engine.image_id(&r.image).await? {
                None => ImageRemoval::Gone,
                Some(id) if id != r.image_id => ImageRemoval::Replaced,
                Some(_) => ImageRemoval::Removed,
            }
        };
        match outcome {
            ImageRemoval::Removed => {
                out.unused.push(r.image.clone());
                out.forget.push(r.image.clone());
            }
            ImageRemoval::Gone => out.forget.push(r.image.clone()),
            ImageRemoval::Replaced => {
                out.kept.push(format!(
                    "{}: names another image since clubhost deployed it",
                    r.image
                ));
                out.forget.push(r.image.clone());
            }
            ImageRemoval::InUse(why) => out.kept.push(format!("{}: in use ({why})", r.image)),
        }
    }
    Ok(out)
}

/// An image reference in Docker's full form: registry host, repository path, and a tag (`latest`
/// when none is given) or digest. `busybox` → `docker.io/library/busybox:latest`.
pub(crate) fn full_reference(reference: &str) -> String {
    let (name, suffix) = match reference.split_once('@') {
        Some((name, digest)) => (name, format!("@{digest}")),
        None => match reference.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, format!(":{tag}")),
            _ => (reference, ":latest".to_string()),
        },
    };
    let first = name.split('/').next().unwrap_or_default();
    let has_host =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let name = if has_host {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    format!("{name}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_compare_in_full() {
        let full = "docker.io/library/busybox:latest";
        for r in ["busybox", "busybox:latest", "library/busybox", full] {
            assert_eq!(full_reference(r), full, "{r}");
        }
        assert_eq!(full_reference("ana/app:1"), "docker.io/ana/app:1");
        assert_eq!(
            full_reference("reg.example:5000/app"),
            "reg.example:5000/app:latest"
        );
        assert_eq!(full_reference("localhost/app:2"), "localhost/app:2");
        assert_eq!(
            full_reference("ghcr.io/a/b@sha256:ab"),
            "ghcr.io/a/b@sha256:ab"
        );
        assert_ne!(full_reference("busybox:1"), full_reference("busybox"));
    }
}
