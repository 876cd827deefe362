//! The proxy's Prometheus metrics: per-project request counts by status class, upstream errors, a
//! latency histogram and open connections. Plain atomics in one process-wide registry, so the
//! request path only increments counters; the admin API renders the text exposition format
//! (`GET /metrics` on the admin socket).
//!
//! Each route holds an `Arc<ProjectStats>` fetched once when the route table is built; a project
//! keeps its counters across table swaps because the registry hands out the same `Arc` per name.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::caps::Slots;

/// Counters of one project (by its display name).
#[derive(Debug, Default)]
pub struct ProjectStats {
    /// Responses by status class: index 0 = 1xx … 4 = 5xx.
    by_class: [AtomicU64; 5],
    /// Requests whose upstream could not be reached or did not answer in time.
    upstream_errors: AtomicU64,
    /// Upstream connections leased to requests right now and requests waiting for one
    /// ([`caps`](super::caps)): kept here, by project name, so the caps hold across route table
    /// swaps like the counters do.
    pub(crate) slots: Arc<Slots>,
}

impl ProjectStats {
    pub(crate) fn record(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Relaxed);
    }

    pub(crate) fn upstream_error(&self) {
        self.upstream_errors.fetch_add(1, Relaxed);
    }

    /// Responses counted so far in `class` (1..=5), for tests and listings.
    pub fn count(&self, class: u16) -> u64 {
        self.by_class[usize::from(class.clamp(1, 5)) - 1].load(Relaxed)
    }

    /// Requests so far whose upstream could not be reached or did not answer in time.
    pub fn upstream_errors(&self) -> u64 {
        self.upstream_errors.load(Relaxed)
    }
}

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

struct Registry {
    projects: Mutex<BTreeMap<String, Arc<ProjectStats>>>,
    /// Cumulative on render; stored per bucket (plus one for +Inf).
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
    open_connections: AtomicI64,
    /// Requests that matched no route.
    unrouted: Arc<ProjectStats>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        projects: Mutex::new(BTreeMap::new()),
        latency: Default::default(),
        latency_sum_micros: AtomicU64::new(0),
        open_connections: AtomicI64::new(0),
        unrouted: Arc::new(ProjectStats::default()),
    })
}

/// The counters for a project name (created on first use). Called when tables are built.
pub fn project(name: &str) -> Arc<ProjectStats> {
    let mut projects = registry().projects.lock().expect("metrics lock poisoned");
    projects.entry(name.to_string()).or_default().clone()
}

/// Counters for requests no route matched.
pub(crate) fn unrouted() -> &'static ProjectStats {
    &registry().unrouted
}

/// Records one request's total time (client's first byte of headers to response headers sent).
pub(crate) fn observe_latency(d: Duration) {
    let r = registry();
    let secs = d.as_secs_f64();
    let i = BUCKETS
        .iter()
        .position(|b| secs <= *b)
        .unwrap_or(BUCKETS.len());
    r.latency[i].fetch_add(1, Relaxed);
    r.latency_sum_micros
        .fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
}

/// Marks a client connection open until the guard drops.
pub(crate) struct ConnectionGuard(());

impl ConnectionGuard {
    pub(crate) fn open() -> ConnectionGuard {
        registry().open_connections.fetch_add(1, Relaxed);
        ConnectionGuard(())
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        registry().open_connections.fetch_sub(1, Relaxed);
    }
}

pub(crate) fn open_connections() -> i64 {
    registry().open_connections.load(Relaxed)
}

/// Escapes a label value for the text exposition format.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Everything, in Prometheus' text exposition format (version 0.0.4).
pub fn render() -> String {
    let r = registry();
    let mut out = String::new();
    out.push_str("# HELP clubhost_proxy_requests_total Requests answered by the proxy, by project and status class.\n");
    out.push_str("# TYPE clubhost_proxy_requests_total counter\n");
    let projects = r.projects.lock().expect("metrics lock poisoned").clone();
    let all = projects
        .iter()
        .map(|(n, s)| (label(n), s.clone()))
        .chain([(String::new(), r.unrouted.clone())]);
    let all: Vec<(String, Arc<ProjectStats>)> = all.collect();
    for (name, stats) in &all {
        for class in 1..=5u16 {
            let n = stats.count(class);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "clubhost_proxy_requests_total{{project=\"{name}\",class=\"{class}xx\"}} {n}"
                );
            }
        }
    }
    out.push_str("# HELP clubhost_proxy_upstream_errors_total Upstreams that could not be reached or did not answer in time.\n");
    out.push_str("# TYPE clubhost_proxy_upstream_errors_total counter\n");
    for (name, stats) in &all {
        let n = stats.upstream_errors();
        if n > 0 {
            let _ = writeln!(
                out,
                "clubhost_proxy_upstream_errors_total{{project=\"{name}\"}} {n}"
            );
        }
    }
    out.push_str("# HELP clubhost_proxy_upstream_in_flight Upstream connections a project holds now (max_conns_per_route bounds them).\n");
    out.push_str("# TYPE clubhost_proxy_upstream_in_flight gauge\n");
    for (name, stats) in &all {
        let n = stats.slots.in_flight();
        if n > 0 {
            let _ = writeln!(
                out,
                "clubhost_proxy_upstream_in_flight{{project=\"{name}\"}} {n}"
            );
        }
    }
    out.push_str("# HELP clubhost_proxy_upstream_waiting Requests waiting for an upstream connection now (max_waiting_per_route bounds them).\n");
    out.push_str("# TYPE clubhost_proxy_upstream_waiting gauge\n");
    for (name, stats) in &all {
        let n = stats.slots.waiting();
        if n > 0 {
            let _ = writeln!(
                out,
                "clubhost_proxy_upstream_waiting{{project=\"{name}\"}} {n}"
            );
        }
    }
    out.push_str(
        "# HELP clubhost_proxy_request_duration_seconds Time from request to response headers.\n",
    );
    out.push_str("# TYPE clubhost_proxy_request_duration_seconds histogram\n");
    let mut cumulative = 0;
    for (i, bound) in BUCKETS.iter().enumerate() {
        cumulative += r.latency[i].load(Relaxed);
        let _ = writeln!(
            out,
            "clubhost_proxy_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    cumulative += r.latency[BUCKETS.len()].load(Relaxed);
    let _ = writeln!(
        out,
        "clubhost_proxy_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let sum = r.latency_sum_micros.load(Relaxed) as f64 / 1e6;
    let _ = writeln!(out, "clubhost_proxy_request_duration_seconds_sum {sum}");
    let _ = writeln!(
        out,
        "clubhost_proxy_request_duration_seconds_count {cumulative}"
    );
    out.push_str("# HELP clubhost_proxy_open_connections Client connections open now.\n");
    out.push_str("# TYPE clubhost_proxy_open_connections gauge\n");
    let _ = writeln!(
        out,
        "clubhost_proxy_open_connections {}",
        open_connections()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_exposition() {
        let s = project("metrics-test \"quoted\"");
        s.record(204);
        s.record(503);
        s.upstream_error();
        let _held = s.slots.try_lease(1).unwrap();
        observe_latency(Duration::from_millis(3));
        let text = render();
        assert!(
            text.contains(
                "clubhost_proxy_requests_total{project=\"metrics-test \\\"quoted\\\"\",class=\"2xx\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("class=\"5xx\"} 1"), "{text}");
        assert!(
            text.contains(
                "clubhost_proxy_upstream_in_flight{project=\"metrics-test \\\"quoted\\\"\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("clubhost_proxy_request_duration_seconds_bucket{le=\"+Inf\"}"));
        // Same name, same counters: a table swap keeps them.
        assert_eq!(project("metrics-test \"quoted\"").count(2), 1);
    }
}
