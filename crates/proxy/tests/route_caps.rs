//! Per-route caps on upstream connections (issue 21): a project that never answers, or answers
//! with a body that never ends, holds at most its cap; the next request to it gets 503 naming it,
//! other projects keep answering, and the cap frees up when the held requests end.

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
        ..RouteLimits::default()
    };
    let proxy = start_proxy(vec![capped, route("fine", "Fine", fine.addr)], settings()).await;

    let held = [hold(proxy, "/slow/a").await, hold(proxy, "/slow/b").await];
    until_seen(&seen, 2).await;
    let refused = send(proxy, b"GET /slow/c HTTP/1.1\r\nHost: club.test\r\n\r\n").await;
    assert_eq!(refused.status, 503, "{}", refused.raw);
    assert!(
        String::from_utf8_lossy(&refused.body).contains(name),
        "the 503 names the project: {}",
        refused.raw
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        2,
        "the third request never reached it"
    );
    // Other projects are not affected.
    let other = send(proxy, b"GET /fine/x HTTP/1.1\r\nHost: club.test\r\n\r\n").await;
    assert_eq!(other.status, 200, "{}", other.raw);

    // Once the held requests end, the cap frees up.
    release_tx.send(true).unwrap();
    for mut s in held {
        let seen = read_response(&mut s, false).await;
        assert_eq!(seen.status, 200, "{}", seen.raw);
        assert!(seen.complete, "{}", seen.raw);
        drop(s);
    }
    // Leases go when the proxy drops the finished bodies: allow it a moment (bounded).
    let mut status = 0;
    for _ in 0..50 {
        status = send(proxy, b"GET /slow/d HTTP/1.1\r\nHost: club.test\r\n\r\n")
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
    let settings = clubhost_proxy::Settings {
        max_conns_per_route: 1,
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
