//! Route table micro-benchmark: lookup time at 10, 100 and 1,000 routes (it should stay flat) and
//! the number of heap allocations per lookup (it should be zero), for path, host and subdomain
//! routes. Run with `cargo bench --bench route_lookup`. Prints figures; asserts nothing about time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use clubhost_proxy::routes::{HostOptions, Match, RouteSpec, RouteTable, Target};

/// Counts allocations so the benchmark can show that lookups make none.
struct Counting;
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A named lookup that reports whether it matched as expected.
type Case<'a> = (&'static str, Box<dyn Fn(usize) -> bool + 'a>);

fn table(n: usize) -> RouteTable {
    let specs = (0..n).map(|i| {
        RouteSpec::path(
            format!("project-{i}"),
            format!("Project {i}"),
            Target::Upstream(SocketAddr::from((
                [10, 0, (i / 250) as u8, (i % 250) as u8],
                8000,
            ))),
        )
    });
    RouteTable::with_hosts(
        specs,
        &HostOptions {
            subdomains_of: Some("club.example".into()),
        },
    )
}

fn main() {
    const LOOKUPS: usize = 2_000_000;
    println!(
        "{:>7} {:>22} {:>12} {:>14}",
        "routes", "kind", "ns/lookup", "allocs/lookup"
    );
    for n in [10, 100, 1_000] {
        let t = table(n);
        let paths: Vec<String> = (0..64)
            .map(|i| format!("/project-{}/a/b?c=d", (i * 7919) % n))
            .collect();
        let hosts: Vec<String> = (0..64)
            .map(|i| format!("Project-{}.club.example:80", (i * 7919) % n))
            .collect();
        let cases: [Case; 3] = [
            (
                "path",
                Box::new(|i| {
                    matches!(
                        t.lookup_host(Some("club.example"), &paths[i % 64]),
                        Match::Route { .. }
                    )
                }),
            ),
            (
                "subdomain (mixed case)",
                Box::new(|i| {
                    matches!(
                        t.lookup_host(Some(&hosts[i % 64]), "/x"),
                        Match::Route { .. }
                    )
                }),
            ),
            (
                "miss",
                Box::new(|_| {
                    matches!(
                        t.lookup_host(Some("club.example"), black_box("/nothing-here/x")),
                        Match::NotFound
                    )
                }),
            ),
        ];
        for (kind, f) in &cases {
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            let start = Instant::now();
            let mut hits = 0usize;
            for i in 0..LOOKUPS {
                hits += usize::from(f(black_box(i)));
            }
            let elapsed = start.elapsed();
            let allocs = ALLOCATIONS.load(Ordering::Relaxed) - before;
            assert_eq!(
                hits, LOOKUPS,
                "{kind}: every lookup should match as expected"
            );
            println!(
                "{n:>7} {kind:>22} {:>12.1} {:>14}",
                elapsed.as_nanos() as f64 / LOOKUPS as f64,
                allocs as f64 / LOOKUPS as f64
            );
        }
    }
}
