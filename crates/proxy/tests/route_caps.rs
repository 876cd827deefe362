//! Per-route caps on upstream connections and on requests waiting for one (issue 21): a project
//! that never answers, or answers with a body that never ends, holds at most its cap; the next
//! requests wait in a bounded queue and are served when a slot frees, the queue's overflow (and a
//! request that waited its whole `queue_timeout`) gets 503 naming the project, and other projects
//! keep answering throughout.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clubhost_proxy::routes::RouteLimits;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How a stuck project behaves once it has read a request head.
#[derive(Clone, Copy)]
enum Stuck {
    /// Never answers.
    Silent,
    /// Sends a head announcing 1,000 bytes, one byte of them, then nothing more.
    Dribbling,
}

/// A project that is stuck until `release` turns true, then answers `200 done` (or finishes its
/// body) and closes. Counts the requests it has read.
async fn stuck_upstream(
    stuck: Stuck,
    release: watch::Receiver<bool>,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (count, mut release) = (count.clone(), release.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if !matches!(s.read(&mut b).await, Ok(1)) {
                        return;
                    }
                    head.push(b[0]);
                }
                count.fetch_add(1, Ordering::SeqCst);
                let rest = match stuck {
                    Stuck::Silent => "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone".to_string(),
                    Stuck::Dribbling => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nx")
                            .await;
                        "y".repeat(999)
                    }
                };
                let _ = tokio::time::timeout(WAIT, release.wait_for(|r| *r)).await;
                let _ = s.write_all(rest.as_bytes()).await;
            });
        }
    });
    (addr, seen)
}

/// Opens a request that will stay in flight; returns the connection to keep it open.
async fn hold(proxy: SocketAddr, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: club.test\r\n\r\n").as_bytes())
        .await
        .unwrap();
    s
}

/// Waits (bounded) until the stuck upstream has read `n` requests.
async fn until_seen(seen: &AtomicUsize, n: usize) {
    for _ in 0..200 {
        if seen.load(Ordering::SeqCst) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the upstream saw {} requests, wanted {n}",
        seen.load(Ordering::SeqCst)
    );
}

async fn cap_holds(stuck: Stuck, name: &'static str) {
    let (release_tx, release) = watch::channel(false);
    let (slow, seen) = stuck_upstream(stuck, release).await;
    let fine = Recorder::start(Reply::ok("fine")).await;
    let mut capped = route("slow", name, slow);
    capped.limits = RouteLimits {
        max_conns: Some(2),
        max_waiting: Some(1),
        ..RouteLimits::default()
    };
    let proxy = start_proxy(vec![capped, route("fine", "Fine", fine.addr)], settings()).await;

    let held = [hold(proxy, "/slow/a").await, hold(proxy, "/slow/b").await];
    until_seen(&seen, 2).await;
    // The third waits for a slot (the queue holds one)...
    let mut queued = hold(proxy, "/slow/c").await;
    tokio::time::sleep(QUIET).await;
    // ...and the fourth finds the queue full: 503 at once, naming the project.
    let refused = send(proxy, b"GET /slow/d HTTP/1.1\r\nHost: club.test\r\n\r\n").await;
    assert_eq!(refused.status, 503, "{}", refused.raw);
    assert!(
        String::from_utf8_lossy(&refused.body).contains(name),
        "the 503 names the project: {}",
        refused.raw
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        2,
        "neither the queued nor the refused request reached it"
    );
    // Other projects are not affected.
    let other = send(proxy, b"GET /fine/x HTTP/1.1\r\nHost: club.test\r\n\r\n").await;
    assert_eq!(other.status, 200, "{}", other.raw);

    // Once the held requests end, the queued one is served, then the cap frees up.
    release_tx.send(true).unwrap();
    for mut s in held {
        let seen = read_response(&mut s, false).await;
        assert_eq!(seen.status, 200, "{}", seen.raw);
        assert!(seen.complete, "{}", seen.raw);
        drop(s);
    }
    let served = read_response(&mut queued, false).await;
    assert_eq!(
        served.status, 200,
        "the queued request was served: {}",
        served.raw
    );
    assert!(served.complete, "{}", served.raw);
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    drop(queued);
    // Leases go when the proxy drops the finished bodies: allow it a moment (bounded).
    let mut status = 0;
    for _ in 0..50 {
        status = send(proxy, b"GET /slow/e HTTP/1.1\r\nHost: club.test\r\n\r\n")
            .await
            .status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200, "the cap was freed");
}

#[tokio::test]
async fn a_project_that_never_answers_holds_at_most_its_cap() {
    cap_holds(Stuck::Silent, "Silent project").await;
}

#[tokio::test]
async fn a_project_whose_body_never_ends_holds_at_most_its_cap() {
    cap_holds(Stuck::Dribbling, "Dribbling project").await;
}

#[tokio::test]
async fn the_proxy_wide_cap_applies_to_routes_without_their_own() {
    let (_release_tx, release) = watch::channel(false);
    let (slow, seen) = stuck_upstream(Stuck::Silent, release).await;
    // No queue: the request past the cap is refused at once.
    let settings = clubhost_proxy::Settings {
        max_conns_per_route: 1,
        max_waiting_per_route: 0,
        ..settings()
    };
    let proxy = start_proxy(vec![route("", "Default-capped project", slow)], settings).await;
    let _held = hold(proxy, "/a").await;
    until_seen(&seen, 1).await;
    let refused = send(proxy, b"GET /b HTTP/1.1\r\nHost: club.test\r\n\r\n").await;
    assert_eq!(refused.status, 503, "{}", refused.raw);
    assert!(String::from_utf8_lossy(&refused.body).contains("Default-capped project"));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_queued_request_gets_503_after_the_queue_timeout_and_others_are_unaffected() {
    let (_release_tx, release) = watch::channel(false);
    let (slow, seen) = stuck_upstream(Stuck::Silent, release).await;
    let fine = Recorder::start(Reply::ok("fine")).await;
    let settings = clubhost_proxy::Settings {
        max_conns_per_route: 1,
        queue_timeout: Duration::from_secs(1),
        ..settings()
    };
    let proxy = start_proxy(
        vec![
            route("slow", "Stuck project", slow),
            route("fine", "Fine", fine.addr),
        ],
        settings,
    )
    .await;
    let _held = hold(proxy, "/slow/a").await;
    until_seen(&seen, 1).await;
    // Two wait at once (the default queue takes 64); meanwhile another project answers.
    let started = std::time::Instant::now();
    let waiting = [hold(proxy, "/slow/b").await, hold(proxy, "/slow/c").await];
    let other = send(proxy, b"GET /fine/x HTTP/1.1\r\nHost: club.test\r\n\r\n").await;
    assert_eq!(other.status, 200, "{}", other.raw);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the other project answered while they waited"
    );
    for mut s in waiting {
        let seen = read_response(&mut s, false).await;
        assert_eq!(seen.status, 503, "{}", seen.raw);
        assert!(
            String::from_utf8_lossy(&seen.body).contains("Stuck project"),
            "{}",
            seen.raw
        );
    }
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "they waited the queue timeout first"
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "only the held request reached it"
    );
}

#[tokio::test]
async fn queued_requests_are_served_in_turn_as_slots_free() {
    // A project that answers each request 150 ms after reading it, capped at one connection:
    // six requests at once all get 200, never more than one at a time upstream.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, m) = (now.clone(), most.clone());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (n, m) = (n.clone(), m.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut head = Vec::new();
                loop {
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(k @ 1..) => head.extend_from_slice(&buf[..k]),
                            _ => return,
                        }
                    }
                    let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    head.drain(..end);
                    let at_once = n.fetch_add(1, Ordering::SeqCst) + 1;
                    m.fetch_max(at_once, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    n.fetch_sub(1, Ordering::SeqCst);
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if s.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let mut one = route("one", "One at a time", addr);
    one.limits.max_conns = Some(1);
    let proxy = start_proxy(vec![one], settings()).await;
    let mut clients = Vec::new();
    for i in 0..6 {
        clients.push(hold(proxy, &format!("/one/{i}")).await);
    }
    let mut tasks = Vec::new();
    for mut s in clients {
        tasks.push(tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(5), read_response(&mut s, false))
                .await
                .expect("served within 5 s")
        }));
    }
    for t in tasks {
        let seen = t.await.unwrap();
        assert_eq!(seen.status, 200, "{}", seen.raw);
    }
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "one request upstream at a time"
    );
}
