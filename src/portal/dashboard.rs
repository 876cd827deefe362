//! The admin dashboard: what waits for an admin and how the club's server is doing, at a glance,
//! each figure linking to where it is handled (`Control::overview`). It is the portal's root for
//! admins (everyone else gets the club's front page there) and lives at `<path>admin/dashboard`.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::IntoResponse;

use super::auth;
use super::front::{self, GalleryQuery};
use super::models::date;
use super::pages::Nav;
use super::refusal::PageResult;
use super::session::Viewer;
use clubhost_core::control::{Control, EXPIRING_WITHIN_DAYS, Overview};

/// One disk figure: what, how much for people, the exact bytes (for tests and tooltips).
pub struct Disk {
    /// What it is, in English (the row's `data-disk`, for tests).
    pub label: String,
    /// Its name's catalogue key (`dash-disk-images`).
    pub key: &'static str,
    pub text: String,
    pub bytes: u64,
    /// How many objects it covers, where that means something (images, volumes).
    pub count: Option<u64>,
}

/// A project whose term ends soon.
pub struct Expiring {
    pub slug: String,
    pub end: String,
}

/// A failed deploy, for the list.
pub struct Failure {
    pub slug: String,
    pub at: String,
    pub reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub nav: Nav,
    pub requests_waiting: usize,
    pub renewals_waiting: usize,
    pub running: usize,
    pub failed: usize,
    pub expiring: Vec<Expiring>,
    pub expiring_days: i64,
    pub disks: Vec<Disk>,
    /// Why Docker's figures are missing.
    pub docker_error: Option<String>,
    /// Memory in use and the total, for people; `None` without /proc.
    pub memory: Option<(String, String)>,
    /// Share of memory in use, 0-100.
    pub memory_percent: u64,
    /// The one-minute load average and the CPU count.
    pub load: Option<(String, u32)>,
    pub failures: Vec<Failure>,
}

/// Bytes for people, in binary units: `0 B`, `512 B`, `1.5 KiB`, `256 MiB`, `1.2 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = if value >= 100.0 || value.fract() < 0.05 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    };
    format!("{text} {}", UNITS[unit])
}

fn view(nav: Nav, o: Overview) -> DashboardPage {
    let mut disks = Vec::new();
    let docker_error = match &o.docker {
        Ok(d) => {
            for (label, key, bytes_used, count) in [
                ("Images", "dash-disk-images", d.images, Some(d.image_count)),
                (
                    "Containers",
                    "dash-disk-containers",
                    d.containers,
                    Some(d.container_count),
                ),
                (
                    "Volumes",
                    "dash-disk-volumes",
                    d.volumes,
                    Some(d.volume_count),
                ),
                ("Build cache", "dash-disk-build-cache", d.build_cache, None),
            ] {
                disks.push(Disk {
                    label: label.into(),
                    key,
                    text: bytes(bytes_used),
                    bytes: bytes_used,
                    count,
                });
            }
            None
        }
        Err(e) => Some(e.clone()),
    };
    disks.push(Disk {
        label: "Data directory".into(),
        key: "dash-disk-data-directory",
        text: bytes(o.data_dir_bytes),
        bytes: o.data_dir_bytes,
        count: None,
    });
    let used = o.host.map(|h| h.mem_total.saturating_sub(h.mem_available));
    DashboardPage {
        nav,
        requests_waiting: o.requests_waiting,
        renewals_waiting: o.renewals_waiting,
        running: o.running,
        failed: o.failed,
        expiring: o
            .expiring
            .into_iter()
            .map(|(slug, end)| Expiring {
                slug,
                end: date(end),
            })
            .collect(),
        expiring_days: EXPIRING_WITHIN_DAYS,
        disks,
        docker_error,
        memory: o
            .host
            .zip(used)
            .map(|(h, used)| (bytes(used), bytes(h.mem_total))),
        memory_percent: o
            .host
            .zip(used)
            .map_or(0, |(h, used)| used * 100 / h.mem_total.max(1)),
        load: o.host.map(|h| (format!("{:.2}", h.load1), h.cpus)),
        failures: o
            .failures
            .into_iter()
            .map(|f| Failure {
                slug: f.project,
                at: date(f.at),
                reason: f.reason,
            })
            .collect(),
    }
}

/// `<path>admin/dashboard`.
pub async fn dashboard_page(v: Viewer, State(c): State<Arc<Control>>) -> PageResult {
    auth::admin(&v)?;
    let overview = c.overview().await?;
    Ok(view(Nav::of(&v), overview).into_response())
}

/// The portal's root: the dashboard for admins, the club's front page for everyone else.
pub async fn portal_root(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Query(q): Query<GalleryQuery>,
) -> PageResult {
    if auth::admin(&v).is_ok() {
        return dashboard_page(v, State(c)).await;
    }
    let here = v.link("/");
    front::page(&v, &c, &q, &here).await
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn bytes_read_like_people_write_them() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(268_435_456), "256 MiB");
        assert_eq!(bytes(1_982_291), "1.9 MiB");
        assert_eq!(bytes(5 << 30), "5 GiB");
    }
}
