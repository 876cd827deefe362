//! The engine's disk use, as `docker system df` shows it: images (the layers on disk), containers'
//! writable layers, local volumes and the build cache, for the admin dashboard.
//!
//! Why not bollard's `df`: bollard 0.21 parses only the answer of API 1.52 and later
//! (`ImageUsage`, `VolumeUsage` …); the engines we run (API 1.41) answer with `LayersSize`,
//! `Images`, `Volumes` and `BuildCache`, which bollard drops without a word, leaving every figure
//! empty. So this module asks `GET /v<negotiated>/system/df` itself over the same endpoint and
//! reads either shape, adding up the figures the way the docker CLI does.

use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{DockerError, Engine, Result};

/// Bytes on the engine's disk by kind, and how many objects of each kind there are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Image layers on disk (each shared layer counted once), and the number of images.
    pub images: u64,
    /// How many images the engine holds (tagged and dangling).
    pub image_count: u64,
    /// Containers' writable layers.
    pub containers: u64,
    /// How many containers exist (running or not).
    pub container_count: u64,
    /// Local volumes' contents (volumes whose size the engine does not know count as 0).
    pub volumes: u64,
    /// How many local volumes exist.
    pub volume_count: u64,
    /// The build cache, records shared with images not counted (as `docker system df` does).
    pub build_cache: u64,
}

/// The answer of `/system/df` in both shapes (API < 1.52 and later); every field optional, so an
/// engine leaving one out reads as zero.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DfAnswer {
    layers_size: Option<i64>,
    images: Option<Vec<serde_json::Value>>,
    containers: Option<Vec<SizedContainer>>,
    volumes: Option<Vec<Volume>>,
    build_cache: Option<Vec<CacheRecord>>,
    image_usage: Option<Totals>,
    container_usage: Option<Totals>,
    volume_usage: Option<Totals>,
    build_cache_usage: Option<Totals>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SizedContainer {
    size_rw: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Volume {
    usage_data: Option<VolumeUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VolumeUsage {
    /// -1 when the engine does not know (a volume driver that does not say).
    size: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CacheRecord {
    size: Option<i64>,
    shared: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Totals {
    total_size: Option<i64>,
    total_count: Option<i64>,
}

fn count<T>(list: &Option<Vec<T>>) -> u64 {
    list.as_ref().map_or(0, |l| l.len() as u64)
}

fn positive(n: Option<i64>) -> u64 {
    n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// Reads `/system/df`'s JSON, either shape, into the CLI's figures.
pub(crate) fn parse_df(json: &[u8]) -> std::result::Result<DiskUsage, String> {
    let a: DfAnswer = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let total = |t: &Option<Totals>| {
        t.as_ref()
            .map(|t| (positive(t.total_size), positive(t.total_count)))
    };
    let mut u = DiskUsage {
        images: positive(a.layers_size),
        image_count: count(&a.images),
        container_count: count(&a.containers),
        containers: a
            .containers
            .iter()
            .flatten()
            .map(|c| positive(c.size_rw))
            .sum(),
        volume_count: count(&a.volumes),
        volumes: a
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| v.usage_data.as_ref())
            .map(|d| positive(Some(d.size)))
            .sum(),
        build_cache: a
            .build_cache
            .iter()
            .flatten()
            .filter(|r| r.shared != Some(true))
            .map(|r| positive(r.size))
            .sum(),
    };
    // API 1.52+: the engine adds up for us.
    if let Some((size, count)) = total(&a.image_usage) {
        (u.images, u.image_count) = (size, count);
    }
    if let Some((size, count)) = total(&a.container_usage) {
        (u.containers, u.container_count) = (size, count);
    }
    if let Some((size, count)) = total(&a.volume_usage) {
        (u.volumes, u.volume_count) = (size, count);
    }
    if let Some((size, _)) = total(&a.build_cache_usage) {
        u.build_cache = size;
    }
    Ok(u)
}

/// The status code and body of an HTTP/1.0 answer (no chunking: the engine closes after it).
pub(crate) fn split_answer(raw: &[u8]) -> std::result::Result<(u16, &[u8]), String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no end of headers")?;
    let status = std::str::from_utf8(&raw[..end])
        .ok()
        .and_then(|head| head.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or("the answer has no status line")?;
    Ok((status, &raw[end + 4..]))
}

pub(crate) async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    path: &str,
) -> std::io::Result<Vec<u8>> {
    let head = format!("GET {path} HTTP/1.0\r\nHost: docker\r\nAccept: application/json\r\n\r\n");
    s.write_all(head.as_bytes()).await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    Ok(raw)
}

impl Engine {
    /// What `docker system df` reports: images, containers, volumes and build cache on disk.
    /// Counting volumes means walking them, so the engine may take a while on a big host.
    ///
    /// The engine refuses a second count while one runs ("a disk usage operation is already
    /// running", e.g. an admin's `docker system df` at the same moment) and may fail one whose
    /// objects vanish mid-walk; such an engine error is asked again a few times before it is
    /// reported.
    pub async fn disk_usage(&self) -> Result<DiskUsage> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.disk_usage_once().await {
                Err(DockerError::DiskUsage { reason, .. })
                    if tries < 4 && reason.starts_with("HTTP ") =>
                {
                    tokio::time::sleep(Duration::from_millis(500 * tries)).await;
                }
                answer => return answer,
            }
        }
    }

    async fn disk_usage_once(&self) -> Result<DiskUsage> {
        let v = self.docker.client_version();
        let path = format!("/v{}.{}/system/df", v.major_version, v.minor_version);
        let fail = |reason: String| DockerError::DiskUsage {
            endpoint: self.endpoint.clone(),
            reason,
        };
        let ask = async {
            if let Some(socket) = self.endpoint.strip_prefix("unix://") {
                exchange(tokio::net::UnixStream::connect(socket).await?, &path).await
            } else {
                let addr = self
                    .endpoint
                    .strip_prefix("tcp://")
                    .or_else(|| self.endpoint.strip_prefix("http://"))
                    .unwrap_or(&self.endpoint)
                    .trim_end_matches('/');
                exchange(tokio::net::TcpStream::connect(addr).await?, &path).await
            }
        };
        let raw = tokio::time::timeout(Duration::from_secs(120), ask)
            .await
            .map_err(|_| fail("no answer in 120 s".into()))?
            .map_err(|e| fail(e.to_string()))?;
        let (status, body) = split_answer(&raw).map_err(|e| fail(e.to_string()))?;
        if status != 200 {
            let said = String::from_utf8_lossy(body);
            return Err(fail(format!("HTTP {status}: {}", said.trim())));
        }
        parse_df(body).map_err(|e| fail(format!("unreadable answer: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_answer_of_api_1_41() {
        let json = br#"{"LayersSize":1982291,"Images":[{"Id":"a"},{"Id":"b"}],
            "Containers":[{"SizeRw":10},{"SizeRw":5}],
            "Volumes":[{"UsageData":{"Size":100,"RefCount":1}},{"UsageData":{"Size":-1,"RefCount":0}}],
            "BuildCache":[{"Size":7,"Shared":false},{"Size":1000,"Shared":true}],"BuilderSize":0}"#;
        let u = parse_df(json).unwrap();
        assert_eq!(
            u,
            DiskUsage {
                images: 1_982_291,
                image_count: 2,
                containers: 15,
                container_count: 2,
                volumes: 100,
                volume_count: 2,
                build_cache: 7,
            }
        );
    }

    #[test]
    fn reads_the_answer_of_api_1_52() {
        let json =
            br#"{"ImageUsage":{"TotalSize":300,"TotalCount":3,"ActiveCount":1,"Reclaimable":0},
            "VolumeUsage":{"TotalSize":40,"TotalCount":2},"BuildCacheUsage":{"TotalSize":9}}"#;
        let u = parse_df(json).unwrap();
        assert_eq!((u.images, u.image_count), (300, 3));
        assert_eq!((u.volumes, u.volume_count), (40, 2));
        assert_eq!(u.build_cache, 9);
        assert_eq!(u.containers, 0);
    }

    #[test]
    fn a_null_build_cache_is_none_and_a_broken_answer_says_why() {
        let u = parse_df(br#"{"LayersSize":0,"Images":[],"BuildCache":null}"#).unwrap();
        assert_eq!(u, DiskUsage::default());
        assert!(parse_df(b"not json").is_err());
        assert_eq!(
            split_answer(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\n{}").unwrap(),
            (200, &b"{}"[..])
        );
        assert!(split_answer(b"HTTP/1.0 200 OK\r\n").is_err());
    }
}
