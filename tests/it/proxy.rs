//! The proxy through a real listener against real loopback upstreams: the proxy runs in-process
//! with a route table the test fills (real sockets both sides, nothing mocked).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use clubhost_proxy::routes::{RouteSpec, RouteTable, Target};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::http;
use crate::proxy_support::*;

#[tokio::test]
async fn websocket_upgrade_echoes_both_ways() {
    let up = upgrade_echo_upstream().await;
    let p = TestProxy::start(vec![upstream_route("ws", "WS", up)], settings()).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(
        b"GET /ws/chat HTTP/1.1\r\nHost: club.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: websocket"),
        "{head}"
    );
    // A masked WebSocket text frame "hello", then a second one: both come back byte for byte.
    for frame in [
        &[
            0x81u8,
            0x85,
            1,
            2,
            3,
            4,
            b'h' ^ 1,
            b'e' ^ 2,
            b'l' ^ 3,
            b'l' ^ 4,
            b'o' ^ 1,
        ][..],
        &[0x81, 0x82, 9, 9, 9, 9, b'h' ^ 9, b'i' ^ 9][..],
    ] {
        s.write_all(frame).await.unwrap();
        let mut back = vec![0u8; frame.len()];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut back))
            .await
            .expect("echo in time")
            .unwrap();
        assert_eq!(back, frame);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_upload_and_download_stream_with_bounded_memory() {
    const SIZE: u64 = 200 * 1024 * 1024;
    let up = app_upstream("big").await;
    let p = TestProxy::start(
        vec![upstream_route("big", "Big", up)],
        clubhost_proxy::Settings {
            max_body_size: 300 * 1024 * 1024,
            ..settings()
        },
    )
    .await;
    // Sample resident memory while the transfers run.
    let base = rss();
    let peak = Arc::new(AtomicU64::new(base));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let (peak, done) = (peak.clone(), done.clone());
        async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });

    let client: Client<_, StreamBody<_>> = Client::builder(TokioExecutor::new()).build_http();
    let chunk = Bytes::from(vec![b'u'; 64 * 1024]);
    let frames = futures_util::stream::iter(
        (0..SIZE / chunk.len() as u64)
            .map(move |_| Ok::<_, Infallible>(Frame::data(chunk.clone()))),
    );
    let req = hyper::Request::post(p.url("/big/upload"))
        .body(StreamBody::new(frames))
        .unwrap();
    let res = client.request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(String::from_utf8_lossy(&body), SIZE.to_string());

    let download: Client<_, http_body_util::Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let res = download
        .get(p.url(&format!("/big/download/{SIZE}")).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.into_body();
    let mut got = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(d) = frame.unwrap().into_data() {
            got += d.len() as u64;
        }
    }
    assert_eq!(got, SIZE);
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    let grew = peak.load(Ordering::Relaxed).saturating_sub(base);
    eprintln!("200 MB up and down through the proxy: resident memory grew by {grew} bytes");
    // Buffering either transfer would add 200 MB; streaming keeps it to buffers.
    assert!(
        grew < 100 * 1024 * 1024,
        "resident memory grew by {grew} bytes"
    );
}

async fn echoed(p: &TestProxy, path: &str, headers: &[(&str, &str)]) -> serde_json::Value {
    let mut req = http().get(p.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn forwarded_headers_and_the_trusted_proxy_rule() {
    let up = app_upstream("fwd").await;
    let routes = || vec![upstream_route("app", "App", up)];
    let spoof = [
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.example"),
        ("x-real-ip", "6.6.6.6"),
        ("forwarded", "for=6.6.6.6"),
        ("connection", "keep-alive, x-secret"),
        ("x-secret", "hop"),
        ("proxy-authorization", "Basic eA=="),
    ];

    // Untrusted peer: everything the client claimed is replaced.
    let p = TestProxy::start(routes(), settings()).await;
    let v = echoed(&p, "/app/echo?q=1", &spoof).await;
    let h = &v["headers"];
    assert_eq!(h["x-forwarded-for"], "127.0.0.1", "{v}");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], p.addr.to_string());
    assert_eq!(h["x-forwarded-prefix"], "/app");
    assert!(h.get("forwarded").is_none(), "{v}");
    assert!(h.get("x-secret").is_none(), "named in Connection: {v}");
    assert!(h.get("proxy-authorization").is_none(), "{v}");

    // Trusted peer (loopback here): its list is extended, its proto and host kept.
    let trusted = TestProxy::start(
        routes(),
        clubhost_proxy::Settings {
            trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
            scheme: "http".into(),
            ..settings()
        },
    )
    .await;
    let v = echoed(&trusted, "/app/echo", &spoof).await;
    let h = &v["headers"];
    assert_eq!(h["x-forwarded-for"], "6.6.6.6, 127.0.0.1", "{v}");
    assert_eq!(h["x-real-ip"], "6.6.6.6");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["x-forwarded-host"], "evil.example");
    assert_eq!(h["x-forwarded-prefix"], "/app");
}

#[tokio::test]
async fn prefix_boundary_and_redirect_keep_the_query() {
    let app = app_upstream("app").await;
    let root = app_upstream("root").await;
    let p = TestProxy::start(
        vec![
            upstream_route("app", "App", app),
            upstream_route("", "Home", root),
            RouteSpec::path("portal", "Portal", Target::Portal),
        ],
        settings(),
    )
    .await;
    let c = http();
    assert_eq!(
        c.get(p.url("/app/id"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "app"
    );
    // `/apple` is not under `/app`.
    assert_eq!(c.get(p.url("/apple")).send().await.unwrap().status(), 200);
    let v = echoed(&p, "/apple?x=1", &[]).await;
    assert!(v["headers"].get("x-forwarded-prefix").is_none(), "{v}");
    assert_eq!(
        c.get(p.url("/id"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "root"
    );
    let res = c.get(p.url("/app?a=1&b=2")).send().await.unwrap();
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], "/app/?a=1&b=2");
    let res = c.post(p.url("/app?a=1")).send().await.unwrap();
    assert_eq!(res.status(), 308, "POST keeps its method");
    // The portal keeps its prefix and is answered in-process.
    let res = c.get(p.url("/portal/")).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "portal here");
}

#[tokio::test]
async fn location_and_set_cookie_are_rewritten_under_the_prefix() {
    let up = app_upstream("rw").await;
    let mut plain = upstream_route("raw", "Raw", up);
    plain.rewrite = false;
    let p = TestProxy::start(vec![upstream_route("app", "App", up), plain], settings()).await;
    let res = http().get(p.url("/app/redirect")).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/app/login?next=%2Fhome");
    let cookies: Vec<_> = res.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies[0], "sid=abc; Path=/app/; HttpOnly");
    assert_eq!(cookies[1], "theme=dark; Path=/app/settings");
    // Switched off for a route: untouched.
    let res = http().get(p.url("/raw/redirect")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/login?next=%2Fhome");
    assert_eq!(res.headers()["set-cookie"], "sid=abc; Path=/; HttpOnly");
}

#[tokio::test]
async fn body_limit_gives_413_and_slow_headers_are_cut_off() {
    let up = app_upstream("lim").await;
    let p = TestProxy::start(
        vec![upstream_route("app", "App", up)],
        clubhost_proxy::Settings {
            max_body_size: 1024,
            header_read_timeout: Duration::from_millis(500),
            ..settings()
        },
    )
    .await;
    let c = http();
    let res = c
        .post(p.url("/app/upload"))
        .body(vec![0u8; 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "1024", "at the limit passes");
    // Declared too large: refused before the upstream is asked.
    let res = c
        .post(p.url("/app/upload"))
        .body(vec![0u8; 1025])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // Chunked and too large: cut off mid-stream.
    let chunked = b"POST /app/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                    400\r\n" as &[u8];
    let mut req = chunked.to_vec();
    req.extend(vec![b'a'; 1024]);
    req.extend(b"\r\n400\r\n");
    req.extend(vec![b'a'; 1024]);
    req.extend(b"\r\n0\r\n\r\n");
    let out = raw(p.addr, &req, Duration::from_secs(5)).await;
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");

    // Slowloris: half a request head, then nothing. The proxy closes the connection.
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(b"GET /app/id HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(
        closed.is_ok(),
        "connection still open after the header timeout"
    );
}

#[tokio::test]
async fn smuggling_attempts_are_refused() {
    let up = app_upstream("smug").await;
    let p = TestProxy::start(vec![upstream_route("app", "App", up)], settings()).await;
    let wait = Duration::from_secs(3);
    // Two different Content-Lengths.
    let out = raw(
        p.addr,
        b"POST /app/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
        wait,
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    // Transfer-Encoding whose last coding is not chunked.
    let out = raw(
        p.addr,
        b"POST /app/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        wait,
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    // Bad chunk size.
    let out = raw(
        p.addr,
        b"POST /app/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        wait,
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    // Both Content-Length and Transfer-Encoding, in either order: refused with 400 and the
    // connection closed, so the bytes hidden after the chunked body are never read as a second
    // request and nothing reaches the upstream.
    for head in [
        "Content-Length: 4\r\nTransfer-Encoding: chunked",
        "transfer-encoding: chunked\r\ncontent-length: 4",
    ] {
        let req = format!(
            "POST /app/echo HTTP/1.1\r\nHost: x\r\n{head}\r\n\r\n\
             0\r\n\r\nGET /app/id HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        let out = raw(p.addr, req.as_bytes(), wait).await;
        assert!(out.starts_with("HTTP/1.1 400"), "{head}: {out}");
        assert_eq!(out.matches("HTTP/1.1 ").count(), 1, "{out}");
        assert!(!out.contains("smug"), "{out}");
    }
    // A keep-alive upload whose body holds header-like lines, then an ordinary chunked request on
    // the same connection: the body is not read as a head, so the second request goes through.
    let mut conn = TcpStream::connect(p.addr).await.unwrap();
    conn.write_all(b"POST /app/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 55\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await; // likely a read of its own
    conn.write_all(b"Transfer-Encoding: chunked\r\nContent-Length: 9\r\nxxxxxx\r\n")
        .await
        .unwrap();
    let first = read_head(&mut conn).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    let mut rest = vec![0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(300), conn.read(&mut rest)).await;
    conn.write_all(
        b"POST /app/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    .await
    .unwrap();
    let second = read_head(&mut conn).await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");

    // A plain chunked request on the same kind of connection still goes through.
    let out = raw(
        p.addr,
        b"POST /app/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          3\r\nabc\r\n0\r\n\r\n",
        wait,
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

#[tokio::test]
async fn error_pages_404_502_503_in_html_and_json() {
    // A port nothing listens on (bound, then released).
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = TestProxy::start(
        vec![
            upstream_route("gone", "Gone App", dead),
            RouteSpec::path(
                "paused",
                "Paused App",
                Target::Unavailable {
                    state: "stopped".into(),
                    about: None,
                },
            ),
        ],
        settings(),
    )
    .await;
    let c = http();
    let res = c.get(p.url("/gone/")).send().await.unwrap();
    assert_eq!(res.status(), 502);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Gone App is not answering")
    );
    let res = c.get(p.url("/paused/")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Paused App is not running") && body.contains("stopped"),
        "{body}"
    );
    let res = c.get(p.url("/nothing")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("href=\"/portal/\""));
    let res = c
        .get(p.url("/paused/"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["status"], 503);
    let metrics = clubhost_proxy::metrics::project("Gone App");
    assert!(metrics.upstream_errors() >= 1);
    assert!(metrics.count(5) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_route_swap_mid_stream_loses_no_request() {
    let a = app_upstream("a").await;
    let b = app_upstream("b").await;
    let p = TestProxy::start(vec![upstream_route("app", "App", a)], settings()).await;
    let c = http();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (c, url) = (c.clone(), p.url("/app/id"));
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..150 {
                let res = c.get(&url).send().await.expect("request failed");
                assert_eq!(res.status(), 200, "worker {worker}");
                seen.push(res.text().await.unwrap());
            }
            seen
        }));
    }
    // Swap back and forth while the requests run.
    for i in 0..20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let target = if i % 2 == 0 { b } else { a };
        p.routes
            .swap(RouteTable::new(vec![upstream_route("app", "App", target)]));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.extend(t.await.unwrap());
    }
    assert_eq!(answers.len(), 8 * 150);
    assert!(answers.iter().all(|a| a == "a" || a == "b"));
    assert!(
        answers.iter().any(|a| a == "b"),
        "the swap never took effect"
    );
}

#[tokio::test]
async fn host_routes_and_subdomains_reach_projects_without_prefix() {
    use clubhost_proxy::routes::HostOptions;
    let up = app_upstream("sub").await;
    let status = app_upstream("status").await;
    let p = TestProxy::start(vec![], settings()).await;
    let mut host_route = upstream_route("", "Status", status);
    host_route.host = Some("status.club.example".into());
    p.routes.swap(RouteTable::with_hosts(
        vec![upstream_route("blog", "Blog", up), host_route],
        &HostOptions {
            subdomains_of: Some("club.example".into()),
        },
    ));
    let get = |host: &'static str, path: &'static str| {
        let url = p.url(path);
        async move {
            http()
                .get(url)
                .header("host", host)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert_eq!(get("blog.club.example", "/id").await, "sub");
    assert_eq!(get("club.example", "/blog/id").await, "sub");
    assert_eq!(get("status.club.example", "/id").await, "status");
}

/// An upstream that answers the first request on each connection and then, on the next request
/// of the same keep-alive connection, closes without a word: the "reused connection that was
/// closed" case. Counts requests it saw so the test can tell a retry from none.
async fn closes_reused_connections() -> (std::net::SocketAddr, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let head = read_head(&mut s).await;
                if head.is_empty() {
                    return;
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
                    .await;
                // The second request is read, counted and dropped with the connection.
                if !read_head(&mut s).await.is_empty() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn a_pooled_connection_that_closes_is_retried_once_for_safe_requests_only() {
    let (up, seen) = closes_reused_connections().await;
    let p = TestProxy::start(vec![upstream_route("app", "App", up)], settings()).await;
    let c = http();
    // First GET opens the pooled upstream connection.
    let res = c.get(p.url("/app/a")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "first");
    // Left idle a while, as an upstream's keep-alive timeout would find it. The second GET
    // reuses it; the upstream drops it; the proxy retries on a fresh connection.
    let stale = Duration::from_millis(300);
    tokio::time::sleep(stale).await;
    let res = c.get(p.url("/app/b")).send().await.unwrap();
    assert_eq!(
        res.status(),
        200,
        "a GET on a dropped connection is retried"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 3, "first, dropped, retried");
    // The retry's connection is pooled now, one request old. A POST is not safe to repeat: when
    // the upstream drops that connection too, the visitor gets 502 and there is no second try.
    tokio::time::sleep(stale).await;
    let res = c.post(p.url("/app/c")).body("x").send().await.unwrap();
    assert_eq!(
        res.status(),
        502,
        "a POST on a dropped connection is not retried"
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        4,
        "exactly one attempt for the POST"
    );
}

#[tokio::test]
async fn per_route_limits_override_the_proxy_wide_ones() {
    use clubhost_proxy::routes::RouteLimits;
    let up = app_upstream("limits").await;
    let mut media = upstream_route("media", "Media", up);
    media.limits = RouteLimits {
        max_body_size: Some(4096),
        response_header_timeout: Some(Duration::from_millis(300)),
        max_conns: None,
        max_waiting: None,
    };
    let p = TestProxy::start(
        vec![upstream_route("app", "App", up), media],
        clubhost_proxy::Settings {
            max_body_size: 1024,
            response_header_timeout: Duration::from_secs(30),
            ..settings()
        },
    )
    .await;
    let c = http();
    // 2 KiB: over the proxy-wide 1 KiB, under the media route's 4 KiB.
    let res = c
        .post(p.url("/app/upload"))
        .body(vec![0u8; 2048])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413, "the proxy-wide limit holds elsewhere");
    let res = c
        .post(p.url("/media/upload"))
        .body(vec![0u8; 2048])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        "2048",
        "the route's own limit applies"
    );
    let res = c
        .post(p.url("/media/upload"))
        .body(vec![0u8; 4097])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // The media route waits 300 ms for response headers, not 30 s: the 5 s /slow gets 504.
    let res = c.get(p.url("/media/slow")).send().await.unwrap();
    assert_eq!(res.status(), 504);
}
