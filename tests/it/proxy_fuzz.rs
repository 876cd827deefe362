//! A short, seeded fuzz run of the proxy's request path over real sockets: mutated and random
//! requests (bounded in count and time) must never crash or wedge the proxy, and every answer
//! is a well-formed HTTP status line or a closed connection. After the run, ordinary requests
//! still go through. The longer, coverage-guided run is `cargo fuzz` (see docs/reliability.md).

use std::time::{Duration, Instant};

use crate::proxy_support::*;

/// A tiny deterministic generator (xorshift), so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: &[&[u8]] = &[
    b"GET /app/ HTTP/1.1\r\nHost: club.example\r\n\r\n",
    b"POST /app/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /app/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET /app HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"GET /app/?q=%00%ff HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
];

/// One mutated request: byte flips, insertions, deletions and splices of another seed.
fn mutate(rng: &mut Rng) -> Vec<u8> {
    let mut req = SEEDS[rng.below(SEEDS.len())].to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(req.len().max(1));
        match rng.below(5) {
            0 if !req.is_empty() => req[at] = rng.next() as u8,
            1 => req.insert(at, b"\r\n: /%\0\t "[rng.below(9)]),
            2 if !req.is_empty() => {
                req.remove(at);
            }
            3 => {
                let other = SEEDS[rng.below(SEEDS.len())];
                let from = rng.below(other.len());
                req.splice(at..at, other[from..].iter().copied());
            }
            _ => req.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
        }
    }
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_requests_never_break_the_proxy() {
    let upstream = app_upstream("fuzz").await;
    let proxy = TestProxy::start(vec![upstream_route("app", "App", upstream)], settings()).await;
    let mut rng = Rng(0x5eed_c1b0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sent = 0;
    // Bounded: 400 requests or 20 s, whichever comes first.
    while sent < 400 && Instant::now() < deadline {
        let req = mutate(&mut rng);
        let answer = raw(proxy.addr, &req, Duration::from_millis(300)).await;
        if !answer.is_empty() {
            assert!(
                answer.starts_with("HTTP/1.1 ") || answer.starts_with("HTTP/1.0 "),
                "not an HTTP answer to {:?}: {answer:?}",
                String::from_utf8_lossy(&req)
            );
        }
        sent += 1;
    }
    assert!(sent >= 20, "only {sent} requests in the time budget");
    // Still serving ordinary requests.
    clubhost_core::notify::tls::install_provider();
    let res = reqwest::get(proxy.url("/app/id")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "fuzz");
}
