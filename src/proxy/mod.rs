//! The reverse proxy visitors reach: path routing to project containers, the portal under its
//! reserved prefix, and clubhost's own error pages.
//!
//! Architecture invariant: the proxy never talks to Docker or the registry. It reads the route
//! table (swapped in by the control plane) and nothing else, so a slow engine or database can never
//! slow a request down.

pub mod pages;
pub mod routes;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tower::ServiceExt;

use routes::{Match, RouteHandle, Target};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every response the proxy sends, whatever produced it.
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// What the proxy needs to serve; shared by every connection.
pub struct Proxy {
    routes: RouteHandle,
    /// Pooled keep-alive connections to upstreams.
    client: Client<HttpConnector, Incoming>,
    /// Answers requests under the portal's reserved prefix.
    portal: axum::Router,
    /// Announced in X-Forwarded-Proto.
    scheme: HeaderValue,
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Headers that describe one hop and must not be forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

impl Proxy {
    pub fn new(routes: RouteHandle, portal: axum::Router, scheme: &str) -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_timer(TokioTimer::new())
            .build(connector);
        Proxy {
            routes,
            client,
            portal,
            scheme: HeaderValue::from_str(scheme).unwrap_or(HeaderValue::from_static("http")),
        }
    }

    /// Accepts connections until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        // Connections watch this; on shutdown each finishes its request in flight, then closes.
        let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // Reap finished connection tasks so the set does not grow without bound.
            while connections.try_join_next().is_some() {}
            let _ = stream.set_nodelay(true);
            let proxy = self.clone();
            let mut closing = closing_rx.clone();
            connections.spawn(async move {
                let service =
                    hyper::service::service_fn(move |req| proxy.clone().handle(req, peer));
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30))
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                tokio::pin!(conn);
                let result = tokio::select! {
                    r = conn.as_mut() => r,
                    () = async { let _ = closing.wait_for(|c| *c).await; } => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        drop(listener);
        let _ = closing_tx.send(true);
        let drain = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            tracing::warn!("shutdown deadline reached; closing remaining connections");
        }
    }

    async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Result<Response<ProxyBody>, Infallible> {
        let json = pages::wants_json(req.headers());
        let table = self.routes.load();
        let (target, prefix, name, upstream_path) = match table.lookup(req.uri().path()) {
            Match::NotFound => {
                return Ok(page(
                    StatusCode::NOT_FOUND,
                    "Nothing is hosted here",
                    "No club project lives at this address.",
                    json,
                ));
            }
            Match::AddSlash => return Ok(add_slash(&req)),
            Match::Route { route, rest } => {
                let mut path = rest.to_string();
                if let Some(q) = req.uri().query() {
                    path.push('?');
                    path.push_str(q);
                }
                (
                    route.target.clone(),
                    route.prefix.clone(),
                    route.name.clone(),
                    path,
                )
            }
        };
        drop(table);
        match target {
            Target::Portal => {
                let req = req.map(axum::body::Body::new);
                let Ok(res) = self.portal.clone().oneshot(req).await;
                Ok(res.map(|b| b.map_err(BoxError::from).boxed_unsync()))
            }
            Target::Unavailable { state, about } => Ok(page(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("{name} is not running"),
                &match about {
                    Some(about) => format!("This project is {state}. {about}"),
                    None => format!("This project is {state} right now."),
                },
                json,
            )),
            Target::Upstream(addr) => Ok(self
                .forward(req, peer, addr, &prefix, &name, &upstream_path, json)
                .await),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn forward(
        &self,
        mut req: Request<Incoming>,
        peer: SocketAddr,
        addr: SocketAddr,
        prefix: &str,
        name: &str,
        path_and_query: &str,
        json: bool,
    ) -> Response<ProxyBody> {
        let uri = match format!("http://{addr}{path_and_query}").parse() {
            Ok(u) => u,
            Err(_) => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "Bad request",
                    "Malformed path.",
                    json,
                );
            }
        };
        let upgrade = req.headers().contains_key(header::UPGRADE).then(|| {
            (
                req.headers().get(header::UPGRADE).cloned(),
                hyper::upgrade::on(&mut req),
            )
        });
        *req.uri_mut() = uri;
        let headers = req.headers_mut();
        strip_hop_by_hop(headers);
        if let Some((Some(proto), _)) = &upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, proto.clone());
        }
        set_forwarded(headers, peer, &self.scheme, prefix);

        let mut res = match self.client.request(req).await {
            Ok(res) => res,
            Err(e) => {
                tracing::warn!(project = %name, upstream = %addr, error = %e, "upstream failed");
                return page(
                    StatusCode::BAD_GATEWAY,
                    &format!("{name} is not answering"),
                    "The project's server did not answer. Try again in a moment.",
                    json,
                );
            }
        };
        if res.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some((_, client_side)) = upgrade
        {
            let upstream_side = hyper::upgrade::on(&mut res);
            tokio::spawn(async move {
                if let (Ok(client), Ok(upstream)) = tokio::join!(client_side, upstream_side) {
                    let mut client = TokioIo::new(client);
                    let mut upstream = TokioIo::new(upstream);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        } else {
            strip_hop_by_hop(res.headers_mut());
        }
        res.map(|b| b.map_err(BoxError::from).boxed_unsync())
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named in Connection are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for h in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(h);
    }
    headers.remove(header::UPGRADE);
}

/// Sets the X-Forwarded-* family. Client-sent values are replaced, not trusted: a visitor must not
/// be able to pose as another address.
fn set_forwarded(headers: &mut HeaderMap, peer: SocketAddr, scheme: &HeaderValue, prefix: &str) {
    let ip = HeaderValue::from_str(&peer.ip().to_string()).expect("an IP is a valid header");
    headers.insert(X_FORWARDED_FOR, ip.clone());
    headers.insert(X_REAL_IP, ip);
    headers.insert(X_FORWARDED_PROTO, scheme.clone());
    match headers.get(header::HOST).cloned() {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST, host);
        }
        None => {
            headers.remove(X_FORWARDED_HOST);
        }
    }
    match HeaderValue::from_str(prefix) {
        Ok(p) if !prefix.is_empty() => {
            headers.insert(X_FORWARDED_PREFIX, p);
        }
        _ => {
            headers.remove(X_FORWARDED_PREFIX);
        }
    }
}

fn page(status: StatusCode, title: &str, detail: &str, json: bool) -> Response<ProxyBody> {
    pages::error_page(status, title, detail, json).map(|b| b.map_err(|e| match e {}).boxed_unsync())
}

/// `/slug?q` → `/slug/?q`, so relative links in the project's pages resolve under its prefix.
fn add_slash<B>(req: &Request<B>) -> Response<ProxyBody> {
    let mut location = format!("{}/", req.uri().path());
    if let Some(q) = req.uri().query() {
        location.push('?');
        location.push_str(q);
    }
    // 308 keeps the method and body for non-GET requests.
    let status = if req.method() == hyper::Method::GET || req.method() == hyper::Method::HEAD {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    let mut res = page(
        status,
        "Moved",
        "This project lives one slash further.",
        false,
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}
