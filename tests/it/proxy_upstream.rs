//! The proxy's own HTTP/1.1 client (`proxy::upstream`, `proxy::h1`) against scripted loopback
//! upstreams that answer byte for byte: chunked bodies with trailers, early answers, `100
//! Continue`, resets on reused connections, and framing the proxy must not trust. Each upstream
//! counts the connections it accepted, so a test can tell a pooled connection from a new one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::http;
use crate::proxy_support::*;

/// A loopback upstream whose connections run `script` (one call per connection); returns its
/// address and the number of connections accepted so far.
async fn scripted<F, Fut>(script: F) -> (SocketAddr, Arc<AtomicU64>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(script(s));
        }
    });
    (addr, accepted)
}

/// The Content-Length of a request head, 0 without one.
fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn chunked_responses_with_trailers_arrive_whole_and_the_connection_is_reused() {
    let (up, accepted) = scripted(|mut s| async move {
        while !read_head(&mut s).await.is_empty() {
            let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Checksum: 42\r\n\r\n";
            if s.write_all(reply).await.is_err() {
                return;
            }
        }
    })
    .await;
    let p = TestProxy::start(vec![upstream_route("app", "App", up)], settings()).await;
    let c = http();
    for _ in 0..3 {
        let res = c.get(p.url("/app/")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), "hello world");
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "a chunked body read to its end (trailers included) returns its connection to the pool"
    );
}

#[tokio::test]
async fn an_upstream_that_answers_before_the_body_ends_is_heard_and_100_continue_is_skipped() {
    let (up, _) = scripted(|mut s| async move {
        let head = read_head(&mut s).await;
        if head.starts_with("POST /early") {
            // Refuses at once, without reading the body.
            let _ = s
                .write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nnope")
                .await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            return;
        }
        let _ = s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
        let mut body = vec![0u8; content_length(&head)];
        s.read_exact(&mut body).await.unwrap();
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{:07}",
            body.len()
        );
        let _ = s.write_all(reply.as_bytes()).await;
    })
    .await;
    let p = TestProxy::start(vec![upstream_route("app", "App", up)], settings()).await;

    // 8 MiB announced, 1 KiB sent: the upstream's 413 comes back without waiting for the rest.
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(
        b"POST /app/early HTTP/1.1\r\nHost: club.example\r\nContent-Length: 8388608\r\n\r\n",
    )
    .await
    .unwrap();
    s.write_all(&[b'x'; 1024]).await.unwrap();
    let head = tokio::time::timeout(Duration::from_secs(5), read_head(&mut s))
        .await
        .expect("the early answer arrives while the body is still owed");
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");

    let res = http()
        .post(p.url("/app/continue"))
        .body(vec![b'y'; 1 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the interim 100 is not the answer");
    assert_eq!(res.text().await.unwrap(), "1048576");
}

#[tokio::test]
async fn a_pooled_connection_reset_by_the_upstream_is_retried_for_a_get() {
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    let (up, accepted) = scripted(move |mut s| {
        let counter = counter.clone();
        async move {
            read_head(&mut s).await;
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
            // The next request on this connection is answered with a TCP reset.
            if !read_head(&mut s).await.is_empty() {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = s.set_zero_linger();
            }
        }
    })
    .await;
    let p = TestProxy::start(vec![upstream_route("app", "App", up)], settings()).await;
    let c = http();
    assert_eq!(c.get(p.url("/app/1")).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let res = c.get(p.url("/app/2")).send().await.unwrap();
    assert_eq!(res.status(), 200, "the reset is met with one retry");
    assert_eq!(res.text().await.unwrap(), "ok");
    assert_eq!(seen.load(Ordering::SeqCst), 3, "first, reset, retried");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn framing_in_doubt_is_502_or_ends_the_connection() {
    let (up, accepted) = scripted(|mut s| async move {
        loop {
            let head = read_head(&mut s).await;
            if head.is_empty() {
                return;
            }
            let reply: &[u8] = if head.starts_with("GET /conflict") {
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
            } else if head.starts_with("GET /extra") {
                // Two bytes of body, then bytes nobody asked for.
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
            } else if head.starts_with("GET /badchunk") {
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain"
            };
            if s.write_all(reply).await.is_err() {
                return;
            }
        }
    })
    .await;
    let p = TestProxy::start(vec![upstream_route("app", "App", up)], settings()).await;
    let c = http();
    assert_eq!(
        c.get(p.url("/app/conflict")).send().await.unwrap().status(),
        502
    );
    let res = c.get(p.url("/app/extra")).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "ok");
    let before = accepted.load(Ordering::SeqCst);
    let res = c.get(p.url("/app/next")).send().await.unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        "plain",
        "the stray bytes are never read as the next response"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        before + 1,
        "a connection with bytes left over is not reused"
    );
    // The head was fine, the body is not: the visitor's response is cut off (before or after
    // its head went out, depending on timing) rather than completed with garbage.
    let outcome = match c.get(p.url("/app/badchunk")).send().await {
        Ok(res) => res.bytes().await.map(|b| b.to_vec()),
        Err(e) => Err(e),
    };
    assert!(outcome.is_err(), "a malformed chunk passed as {outcome:?}");
}
