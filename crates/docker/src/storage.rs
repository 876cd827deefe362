//! Networks, volumes and images: the Docker objects a deploy needs before any container.
//! Same rules as the rest of `docker`: create with our labels, touch only what carries them.
//! Images are the exception (they carry whatever labels their builder gave them): an image is
//! only removed by the reference a deploy of ours used, while it still names the image id
//! recorded then, and never forced, so an image any container uses stays.

use std::collections::HashMap;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveImageOptionsBuilder, RemoveVolumeOptionsBuilder,
};
use futures_util::StreamExt;

use super::{
    DockerError, Engine, LABEL_MANAGED, LABEL_PROJECT, Result, api, is_not_found, split_image,
};

/// What became of an image reference `gc --images` asked to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRemoval {
    /// Untagged (and the image deleted when no other tag named it).
    Removed,
    /// Not present any more.
    Gone,
    /// The reference names another image now (re-tagged or pulled since): not ours, left alone.
    Replaced,
    /// A container (clubhost's or anyone's) uses it; Docker's reason.
    InUse(String),
}

/// A network on the engine, anyone's, with the subnets its address config holds: what a new
/// subnet must not overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSubnets {
    /// The network's name (not unique on Docker; listed as found).
    pub name: String,
    /// CIDRs, IPv6 ones included; empty for `host` and `none`.
    pub subnets: Vec<String>,
    /// Carries this instance's labels.
    pub ours: bool,
    /// Its `clubhost.project` label, if any.
    pub project: Option<String>,
}

/// The address config of a network created with `subnet` (Docker picks the gateway address, the
/// first of the subnet).
pub(crate) fn ipam(subnet: &str) -> Option<Ipam> {
    Some(Ipam {
        config: Some(vec![IpamConfig {
            subnet: Some(subnet.to_string()),
            ..Default::default()
        }]),
        ..Default::default()
    })
}

impl Engine {
    // ---- networks ----

    /// Creates the gateway bridge if missing. Inter-container communication is off on it, so
    /// projects can't reach each other there, while the proxy on the host reaches them all.
    /// It is shared by every clubhost instance on this engine, so only its managed label counts.
    /// `subnet` is used when it is created; an existing gateway keeps its own.
    pub async fn ensure_gateway(&self, name: &str, subnet: &str) -> Result<()> {
        let labels = HashMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            ("clubhost.role".to_string(), "gateway".to_string()),
        ]);
        let req = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(labels),
            options: Some(HashMap::from([(
                "com.docker.network.bridge.enable_icc".to_string(),
                "false".to_string(),
            )])),
            ipam: ipam(subnet),
            ..Default::default()
        };
        self.ensure_network(req, |l| l.get(LABEL_MANAGED).is_some_and(|v| v == "true"))
            .await
            .map(|_| ())
    }

    /// Creates a project's network (`internal` keeps it off the outside world) with `subnet` if
    /// missing; returns whether it was created now. An existing one keeps its subnet.
    pub async fn ensure_project_network(
        &self,
        name: &str,
        project: &str,
        subnet: &str,
    ) -> Result<bool> {
        let req = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            internal: Some(true),
            labels: Some(self.labels(Some(project))),
            ipam: ipam(subnet),
            ..Default::default()
        };
        self.ensure_network(req, |l| self.is_ours(Some(l))).await
    }

    /// Docker does not keep network names unique: two creators racing for one name (two clubhost
    /// processes starting at once) can make two networks. So: list by exact name, create if none,
    /// and if there are several of ours keep the oldest and remove the rest, which every racer
    /// agrees on. With an explicit subnet the loser of that race is refused instead (its subnet
    /// overlaps the winner's), which also means the network exists.
    pub(crate) async fn ensure_network(
        &self,
        req: NetworkCreateRequest,
        ours: impl Fn(&HashMap<String, String>) -> bool,
    ) -> Result<bool> {
        let name = req.name.clone();
        let existing = self.networks_named(&name).await?;
        if let Some(foreign) = existing.iter().find(|n| !ours(&n.2)) {
            return Err(DockerError::NotOurs(format!(
                "network {} ({})",
                name, foreign.0
            )));
        }
        if !existing.is_empty() {
            return Ok(false);
        }
        let subnet = req
            .ipam
            .as_ref()
            .and_then(|i| i.config.as_ref()?.first()?.subnet.clone());
        match self.docker.create_network(req).await {
            Ok(_) => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 403,
                message,
            }) if message.contains("overlaps") => {
                // Docker reserves the winner's subnet before its network is listed: look for a
                // while before calling it someone else's.
                for _ in 0..20 {
                    let now = self.networks_named(&name).await?;
                    if !now.is_empty() && now.iter().all(|n| ours(&n.2)) {
                        return Ok(false);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
                return Err(DockerError::SubnetTaken {
                    network: name,
                    subnet: subnet.unwrap_or_default(),
                });
            }
            Err(e) => return Err(api(format!("create network {name}"))(e)),
        }
        let mut now = self.networks_named(&name).await?;
        now.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        for (id, _, labels) in now.iter().skip(1) {
            if ours(labels) {
                let _ = self.docker.remove_network(id).await;
            }
        }
        Ok(true)
    }

    /// (id, created, labels) of every network with exactly this name.
    async fn networks_named(
        &self,
        name: &str,
    ) -> Result<Vec<(String, String, HashMap<String, String>)>> {
        let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
        let opts = ListNetworksOptionsBuilder::default()
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_networks(Some(opts))
            .await
            .map_err(api(format!("list networks named {name}")))?;
        Ok(list
            .into_iter()
            .filter(|n| n.name.as_deref() == Some(name))
            .map(|n| {
                (
                    n.id.unwrap_or_default(),
                    n.created.unwrap_or_default(),
                    n.labels.unwrap_or_default(),
                )
            })
            .collect())
    }

    /// Removes a network of ours (every copy, should a race have made two); a missing one is
    /// already gone.
    pub async fn remove_network(&self, name: &str) -> Result<()> {
        for (id, _, labels) in self.networks_named(name).await? {
            if !self.is_ours(Some(&labels)) {
                return Err(DockerError::NotOurs(format!("network {name} ({id})")));
            }
            match self.docker.remove_network(&id).await {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(api(format!("remove network {name}"))(e)),
            }
        }
        Ok(())
    }

    /// Names of our networks, for one project or all: sorted, each once (a name two racing
    /// creators made twice is listed once).
    pub async fn networks(&self, project: Option<&str>) -> Result<Vec<String>> {
        let opts = ListNetworksOptionsBuilder::default()
            .filters(&self.label_filter(project))
            .build();
        let list = self
            .docker
            .list_networks(Some(opts))
            .await
            .map_err(api("list networks"))?;
        let mut names: Vec<String> = list.into_iter().filter_map(|n| n.name).collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Every network on the engine (anyone's) with its subnets, so a new subnet overlaps none.
    pub async fn network_subnets(&self) -> Result<Vec<NetworkSubnets>> {
        let list = self
            .docker
            .list_networks(None)
            .await
            .map_err(api("list networks"))?;
        Ok(list
            .into_iter()
            .map(|n| NetworkSubnets {
                ours: self.is_ours(n.labels.as_ref()),
                project: n
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_PROJECT).cloned()),
                name: n.name.unwrap_or_default(),
                subnets: n
                    .ipam
                    .and_then(|i| i.config)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|c| c.subnet)
                    .collect(),
            })
            .collect())
    }

    // ---- volumes ----

    /// Creates a named volume if missing; returns whether it was created now.
    pub async fn ensure_volume(&self, name: &str, project: &str) -> Result<bool> {
        match self.docker.inspect_volume(name).await {
            Ok(v) if self.is_ours(Some(&v.labels)) => Ok(false),
            Ok(_) => Err(DockerError::NotOurs(name.to_string())),
            Err(e) if is_not_found(&e) => {
                let req = VolumeCreateRequest {
                    name: Some(name.to_string()),
                    labels: Some(self.labels(Some(project))),
                    ..Default::default()
                };
                self.docker
                    .create_volume(req)
                    .await
                    .map_err(api(format!("create volume {name}")))?;
                Ok(true)
            }
            Err(e) => Err(api(format!("inspect volume {name}"))(e)),
        }
    }

    /// Removes a volume of ours and the data in it; a missing one is already gone, and one without
    /// our labels is refused ([`DockerError::NotOurs`]).
    pub async fn remove_volume(&self, name: &str) -> Result<()> {
        match self.docker.inspect_volume(name).await {
            Ok(v) if self.is_ours(Some(&v.labels)) => self
                .docker
                .remove_volume(name, Some(RemoveVolumeOptionsBuilder::default().build()))
                .await
                .or_else(|e| if is_not_found(&e) { Ok(()) } else { Err(e) })
                .map_err(api(format!("remove volume {name}"))),
            Ok(_) => Err(DockerError::NotOurs(name.to_string())),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(api(format!("inspect volume {name}"))(e)),
        }
    }

    /// Names of our volumes, for one project or all.
    pub async fn volumes(&self, project: Option<&str>) -> Result<Vec<String>> {
        let opts = ListVolumesOptionsBuilder::default()
            .filters(&self.label_filter(project))
            .build();
        let list = self
            .docker
            .list_volumes(Some(opts))
            .await
            .map_err(api("list volumes"))?;
        Ok(list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect())
    }

    // ---- images ----

    /// The id of the image `reference` names, or None when there is none.
    pub async fn image_id(&self, reference: &str) -> Result<Option<String>> {
        match self.docker.inspect_image(reference).await {
            Ok(i) => Ok(i.id),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api(format!("inspect image {reference}"))(e)),
        }
    }

    /// Removes the reference `image` if it still names `expected_id`; never forced, so Docker
    /// refuses (and this reports [`ImageRemoval::InUse`]) while any container uses it.
    pub async fn remove_image(&self, image: &str, expected_id: &str) -> Result<ImageRemoval> {
        match self.image_id(image).await? {
            None => return Ok(ImageRemoval::Gone),
            Some(id) if id != expected_id => return Ok(ImageRemoval::Replaced),
            Some(_) => {}
        }
        let opts = RemoveImageOptionsBuilder::default()
            .force(false)
            .noprune(false)
            .build();
        match self.docker.remove_image(image, Some(opts), None).await {
            Ok(_) => Ok(ImageRemoval::Removed),
            Err(e) if is_not_found(&e) => Ok(ImageRemoval::Gone),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409,
                message,
            }) => Ok(ImageRemoval::InUse(message)),
            Err(e) => Err(api(format!("remove image {image}"))(e)),
        }
    }

    /// Makes sure `image` is present, pulling only when it is not.
    pub(crate) async fn ensure_image(&self, image: &str) -> Result<()> {
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(api(format!("inspect image {image}"))(e)),
        }
        let (repo, tag) = split_image(image);
        let opts = CreateImageOptionsBuilder::default()
            .from_image(repo)
            .tag(tag)
            .build();
        let mut pull = self.docker.create_image(Some(opts), None, None);
        while let Some(progress) = pull.next().await {
            if let Err(e) = progress {
                return Err(DockerError::ImageUnavailable {
                    image: image.to_string(),
                    reason: e.to_string(),
                });
            }
        }
        Ok(())
    }
}
