//! Support for the proxy tests: the proxy in-process on a real loopback listener (with a route
//! table the test fills itself), real loopback upstreams (an axum app and a raw TCP Upgrade echo
//! server), raw-socket requests, and this process's resident memory.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use bytes::Bytes;
use clubhost_proxy::routes::{RouteHandle, RouteSpec, RouteTable, Target};
use clubhost_proxy::{Proxy, Settings};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A proxy serving on 127.0.0.1:<random> until the test's runtime ends.
pub struct TestProxy {
    pub addr: SocketAddr,
    pub routes: RouteHandle,
}

impl TestProxy {
    pub async fn start(specs: Vec<RouteSpec>, settings: Settings) -> TestProxy {
        let routes = RouteHandle::default();
        routes.swap(RouteTable::new(specs));
        let portal = axum::Router::new().route("/portal/", get(|| async { "portal here" }));
        let proxy = Arc::new(Proxy::with_settings(routes.clone(), portal, settings));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(proxy.serve(listener, std::future::pending()));
        TestProxy { addr, routes }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub fn upstream_route(segment: &str, name: &str, addr: SocketAddr) -> RouteSpec {
    RouteSpec::path(segment, name, Target::Upstream(addr))
}

/// Quiet settings (no access log noise) with test-sized limits.
pub fn settings() -> Settings {
    Settings {
        access_log: None,
        ..Settings::default()
    }
}

/// The loopback app behind the proxy. `id` lets tests tell two upstreams apart.
pub async fn app_upstream(id: &'static str) -> SocketAddr {
    let app = axum::Router::new()
        .route("/id", get(move || async move { id }))
        .route("/echo", any(echo))
        .route("/redirect", get(redirect))
        .route("/upload", post(upload))
        .route("/download/{n}", get(download))
        .route("/slow", get(slow))
        .fallback(any(echo));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Answers with what it received: path, query and headers as JSON.
async fn echo(req: Request) -> impl IntoResponse {
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::Value::String(v.to_str().unwrap_or("?").to_string()),
            )
        })
        .collect();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .map(|b| b.len())
        .unwrap_or(usize::MAX);
    axum::Json(serde_json::json!({ "headers": headers, "body_len": body }))
}

async fn redirect(headers: HeaderMap) -> Response {
    let _ = headers;
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", "/login?next=%2Fhome")
        .header("set-cookie", "sid=abc; Path=/; HttpOnly")
        .header("set-cookie", "theme=dark; Path=/settings")
        .body(Body::empty())
        .unwrap()
}

/// Counts the uploaded bytes as they stream in.
async fn upload(req: Request) -> String {
    let mut stream = req.into_body().into_data_stream();
    let mut n: u64 = 0;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => n += c.len() as u64,
            Err(e) => return format!("error after {n}: {e}"),
        }
    }
    n.to_string()
}

/// Streams `n` bytes in 64 KiB chunks, generated as they are sent.
async fn download(axum::extract::Path(n): axum::extract::Path<u64>) -> Response {
    const CHUNK: usize = 64 * 1024;
    let chunk = Bytes::from(vec![b'x'; CHUNK]);
    let stream = futures_util::stream::unfold(n, move |left| {
        let chunk = chunk.clone();
        async move {
            if left == 0 {
                return None;
            }
            let take = left.min(CHUNK as u64);
            Some((
                Ok::<_, Infallible>(chunk.slice(..take as usize)),
                left - take,
            ))
        }
    });
    Response::new(Body::from_stream(stream))
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    "late"
}

/// A raw TCP server that answers any request head with `101 Switching Protocols` and then echoes
/// every byte back until the client closes, like a WebSocket echo server.
pub async fn upgrade_echo_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let head = read_head(&mut s).await;
                let upgrade = head
                    .lines()
                    .find_map(|l| l.strip_prefix("upgrade: ").or(l.strip_prefix("Upgrade: ")))
                    .unwrap_or("websocket")
                    .to_string();
                let reply = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: {upgrade}\r\n\r\n"
                );
                s.write_all(reply.as_bytes()).await.unwrap();
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Reads up to the end of an HTTP head (`\r\n\r\n`), byte by byte.
pub async fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b).await {
            Ok(1) => head.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Sends raw bytes and returns everything read until the server closes or `wait` passes.
pub async fn raw(addr: SocketAddr, request: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's resident memory in bytes (VmRSS).
pub fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}
