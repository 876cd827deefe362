//! The visitor side over real sockets: clubhost's own server for bodyless requests and the hand
//! over to hyper's for the rest on the same connection, HTTP/1.0 keep-alive, HEAD, and graceful
//! shutdown of idle and busy connections.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use clubhost_proxy::Proxy;
use clubhost_proxy::routes::{RouteHandle, RouteTable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::proxy_support::*;

/// Reads until the peer closes (bounded by `wait`; panics if it does not close in time).
async fn read_until_closed(s: &mut TcpStream, wait: Duration) -> String {
    let mut buf = Vec::new();
    tokio::time::timeout(wait, s.read_to_end(&mut buf))
        .await
        .expect("the proxy did not close the connection")
        .unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

/// Reads one response with a Content-Length body off a keep-alive connection.
async fn read_response(s: &mut TcpStream) -> String {
    let head = read_head(s).await;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = vec![0; len];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut body))
        .await
        .unwrap()
        .unwrap();
    format!("{head}{}", String::from_utf8_lossy(&body))
}

#[tokio::test]
async fn pipelined_requests_with_and_without_bodies_share_one_connection_in_order() {
    let up = app_upstream("pipe").await;
    let p = TestProxy::start(vec![upstream_route("app", "App", up)], settings()).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    // Two bodyless requests (ours), an upload (hands the connection to hyper with the bytes
    // already read), then one more bodyless request, which hyper serves.
    s.write_all(
        b"GET /app/id HTTP/1.1\r\nHost: x\r\n\r\n\
          HEAD /app/id HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /app/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
          GET /app/id HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let all = read_until_closed(&mut s, Duration::from_secs(5)).await;
    let answers: Vec<&str> = all.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 4, "{all}");
    for a in &answers {
        assert!(a.starts_with("200 OK\r\n"), "{a}");
        assert!(a.to_ascii_lowercase().contains("\r\ndate: "), "{a}");
    }
    assert!(answers[0].ends_with("\r\n\r\npipe"), "{}", answers[0]);
    // HEAD: the GET's length, no body.
    assert!(
        answers[1].contains("content-length: 4\r\n"),
        "{}",
        answers[1]
    );
    assert!(answers[1].ends_with("\r\n\r\n"), "{}", answers[1]);
    assert!(answers[2].ends_with("\r\n\r\n5"), "{}", answers[2]);
    assert!(answers[3].ends_with("\r\n\r\npipe"), "{}", answers[3]);
}

#[tokio::test]
async fn http10_clients_keep_the_connection_only_when_they_ask() {
    let up = app_upstream("old").await;
    let p = TestProxy::start(vec![upstream_route("app", "App", up)], settings()).await;

    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(b"GET /app/id HTTP/1.0\r\n\r\n").await.unwrap();
    let out = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(out.starts_with("HTTP/1.0 200 OK\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nold"), "{out}");

    let mut s = TcpStream::connect(p.addr).await.unwrap();
    for _ in 0..2 {
        s.write_all(b"GET /app/id HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .await
            .unwrap();
        let out = read_response(&mut s).await;
        assert!(out.starts_with("HTTP/1.0 200 OK\r\n"), "{out}");
        assert!(out.contains("\r\nconnection: keep-alive\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\nold"), "{out}");
    }
}

#[tokio::test]
async fn shutdown_closes_idle_connections_at_once_and_lets_a_request_in_flight_finish() {
    let app = axum::Router::new().route(
        "/wait",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            "done"
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let routes = RouteHandle::default();
    routes.swap(RouteTable::new(vec![upstream_route("app", "App", up)]));
    let proxy = Arc::new(Proxy::with_settings(
        routes,
        axum::Router::new(),
        settings(),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(proxy.serve(listener, async {
        let _ = stopped.await;
    }));

    // An idle keep-alive connection, after one answered request.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(read_response(&mut idle).await.starts_with("HTTP/1.1 404"));
    // A request in flight when the shutdown comes.
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(b"GET /app/wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.send(()).unwrap();

    let rest = read_until_closed(&mut idle, Duration::from_millis(400)).await;
    assert_eq!(rest, "", "the idle connection closes without a word");
    let out = read_until_closed(&mut busy, Duration::from_secs(5)).await;
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("\r\nconnection: close\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\ndone"), "{out}");
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("serve returns once its connections are done")
        .unwrap();
}

#[tokio::test]
async fn an_upstream_switching_protocols_unasked_is_a_502() {
    // This upstream answers every request with 101, asked or not.
    let up = upgrade_echo_upstream().await;
    let p = TestProxy::start(vec![upstream_route("ws", "Ws", up)], settings()).await;
    let out = raw(
        p.addr,
        b"GET /ws/plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(3),
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 502"), "{out}");
    assert!(!out.contains("101"), "{out}");
}
