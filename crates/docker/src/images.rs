//! An image as a service asks for it: pulled or not by its `pull_policy`, in the `platform`
//! variant it names, and the healthcheck it brings (for `depends_on: service_healthy` on a
//! service whose file gives none).

use bollard::models::ImageInspect;
use bollard::query_parameters::CreateImageOptionsBuilder;
use clubhost_stack::PullPolicy;
use futures_util::StreamExt;

use super::{DockerError, Engine, Result, api, is_not_found, split_image};

/// What an image's own `HEALTHCHECK` says, as far as a deploy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageHealth {
    /// The image defines a test.
    Test,
    /// No test (none written, or `HEALTHCHECK NONE`).
    NoTest,
}

impl Engine {
    /// Makes `image` present as the service wants it: pulled on every deploy (`always`), only
    /// when absent (`missing`, the default), or never; and, with a `platform`, in that variant.
    pub async fn prepare_image(
        &self,
        image: &str,
        policy: Option<PullPolicy>,
        platform: Option<&str>,
    ) -> Result<()> {
        let policy = policy.unwrap_or(PullPolicy::Missing);
        if platform.is_none() && policy == PullPolicy::Missing {
            return self.ensure_image(image).await;
        }
        let local = self.inspect_image(image).await?;
        let fits = |i: &Option<ImageInspect>| {
            i.as_ref()
                .is_some_and(|i| platform.is_none_or(|p| platform_matches(p, &platform_of(i))))
        };
        let pulled = match policy {
            PullPolicy::Missing if fits(&local) => return Ok(()),
            PullPolicy::Never if local.is_none() => {
                return Err(DockerError::ImageUnavailable {
                    image: image.to_string(),
                    reason: "the service's pull_policy is never".into(),
                });
            }
            PullPolicy::Never => Ok(()),
            PullPolicy::Always | PullPolicy::Missing => self.pull(image, platform).await,
        };
        let Some(wanted) = platform else {
            return pulled.map_err(|reason| DockerError::ImageUnavailable {
                image: image.to_string(),
                reason,
            });
        };
        let now = self.inspect_image(image).await?;
        match (&now, pulled) {
            (Some(_), Ok(())) if fits(&now) => Ok(()),
            (Some(i), pulled) => Err(DockerError::ImagePlatform {
                image: image.to_string(),
                platform: wanted.to_string(),
                found: platform_of(i),
                reason: pulled.err().unwrap_or_else(|| match policy {
                    PullPolicy::Never => "pull_policy is never".into(),
                    _ => "the registry has no such variant".into(),
                }),
            }),
            (None, pulled) => Err(DockerError::ImageUnavailable {
                image: image.to_string(),
                reason: pulled
                    .err()
                    .unwrap_or_else(|| format!("no {wanted} variant could be pulled")),
            }),
        }
    }

    /// Whether the image's own `HEALTHCHECK` has a test a container inherits.
    pub async fn image_health(&self, image: &str) -> Result<ImageHealth> {
        let i = self
            .inspect_image(image)
            .await?
            .ok_or_else(|| DockerError::ImageUnavailable {
                image: image.to_string(),
                reason: "it is not on this server".into(),
            })?;
        let test = i.config.and_then(|c| c.healthcheck).and_then(|h| h.test);
        Ok(match test.as_deref() {
            Some([first, ..]) if first != "NONE" => ImageHealth::Test,
            _ => ImageHealth::NoTest,
        })
    }

    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInspect>> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(i)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api(format!("inspect image {image}"))(e)),
        }
    }

    /// Pulls `image` (in `platform`'s variant); the engine's reason when it cannot.
    async fn pull(&self, image: &str, platform: Option<&str>) -> std::result::Result<(), String> {
        let (repo, tag) = split_image(image);
        let mut opts = CreateImageOptionsBuilder::default()
            .from_image(repo)
            .tag(tag);
        if let Some(p) = platform {
            opts = opts.platform(p);
        }
        let mut pull = self.docker.create_image(Some(opts.build()), None, None);
        while let Some(progress) = pull.next().await {
            progress.map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// `os/architecture[/variant]` of an image, as `platform:` spells it.
fn platform_of(i: &ImageInspect) -> String {
    let mut p = format!(
        "{}/{}",
        i.os.as_deref().unwrap_or("linux"),
        i.architecture.as_deref().unwrap_or("unknown")
    );
    if let Some(v) = i.variant.as_deref().filter(|v| !v.is_empty()) {
        p.push('/');
        p.push_str(v);
    }
    p
}

/// Whether an image of platform `found` is what `wanted` asks for: same OS and architecture
/// (under their usual aliases), and the same variant when `wanted` names one.
fn platform_matches(wanted: &str, found: &str) -> bool {
    fn parts(p: &str) -> (String, String, Option<String>) {
        let mut it = p.split('/').map(|s| s.trim().to_ascii_lowercase());
        let os = it.next().unwrap_or_default();
        let arch = match it.next().unwrap_or_default().as_str() {
            "x86_64" | "x86-64" => "amd64".to_string(),
            "aarch64" => "arm64".to_string(),
            "i386" | "i686" => "386".to_string(),
            a => a.to_string(),
        };
        (os, arch, it.next().filter(|v| !v.is_empty()))
    }
    let (wo, wa, wv) = parts(wanted);
    let (fo, fa, fv) = parts(found);
    wo == fo
        && wa == fa
        && (wv.is_none()
            || wv == fv
            || (wa == "arm64" && wv.as_deref() == Some("v8") && fv.is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_match_by_os_architecture_and_a_named_variant() {
        assert!(platform_matches("linux/amd64", "linux/amd64"));
        assert!(platform_matches("linux/x86_64", "linux/amd64"));
        assert!(platform_matches("Linux/AMD64", "linux/amd64"));
        assert!(platform_matches("linux/arm64", "linux/arm64/v8"));
        assert!(platform_matches("linux/arm64/v8", "linux/arm64"));
        assert!(platform_matches("linux/arm/v7", "linux/arm/v7"));
        assert!(!platform_matches("linux/arm/v6", "linux/arm/v7"));
        assert!(!platform_matches("linux/arm64", "linux/amd64"));
        assert!(!platform_matches("windows/amd64", "linux/amd64"));
    }
}
