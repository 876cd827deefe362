//! The reverse proxy visitors reach: path (and host) routing to project containers and static
//! upstreams, the portal under its reserved prefix, and clubhost's own error pages.
//!
//! Architecture invariant: the proxy never talks to Docker or the registry. It reads the route
//! table (swapped in by the control plane) and nothing else, so a slow engine or database can never
//! slow a request down.
//!
//! Module map: [`routes`] (the table), [`forwarded`] (header surgery), [`body`] (request bodies
//! with the size limit), [`framing`] (spots heads with both Content-Length and
//! Transfer-Encoding), [`metrics`] (counters for `/metrics`), [`pages`] (error pages),
//! [`settings`] (limits and timeouts), [`access`] (the access log line), [`upstream`] (pooled
//! keep-alive connections to upstreams), [`h1`] (the HTTP/1.1 client codec for upstreams),
//! `visitor` (the client side of a connection: our own server for bodyless requests, hyper's for
//! the rest), `httpdate` (the Date header), [`rules`] (the RFC 9110/9112 request rules both
//! visitor parsers share: Host, target forms, refused methods, which upgrades pass), [`tls`]
//! (HTTPS: certificates by SNI, the TLS listener with HTTP/2, ACME HTTP-01 answers and the
//! redirect to HTTPS).

#![warn(missing_docs)]

mod accept;
pub(crate) mod access;
pub mod body;
pub(crate) mod caps;
pub mod forwarded;
pub(crate) mod framing;
pub mod h1;
mod httpdate;
pub mod metrics;
pub mod pages;
pub mod routes;
pub mod rules; // pub for the fuzz target (fuzz/fuzz_targets/proxy_rules.rs)
pub(crate) mod settings;
pub mod tls;
pub(crate) mod upstream;
mod visitor;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Body;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

pub use access::LogFormat;
use body::{Fault, FaultCell, RequestBody, UpstreamBody};
use pages::{add_slash, page, to_portal_host};
use routes::{Match, Route, RouteHandle, Target};
pub use settings::Settings;
pub use upstream::{Dialer, Dialing};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) use body::ProxyBody;

/// The visitor's address, put in the extensions of every request the portal gets (it throttles
/// logins per address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// Put in the extensions of portal requests that came over HTTPS (its cookies get `Secure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Https;

/// The portal, boxed once at start-up so `Proxy` is not generic.
type Portal = BoxCloneSyncService<Request<RequestBody>, Response<ProxyBody>, Infallible>;

/// One client connection: what its requests share.
struct ClientConn {
    proxy: Arc<Proxy>,
    peer: SocketAddr,
    /// `peer`'s IP as a header value, formatted once per connection (X-Forwarded-For, X-Real-IP).
    peer_ip: HeaderValue,
    /// What the socket wrapper saw of the current request's head.
    framing: Arc<framing::FramingFlags>,
    /// Came in on the TLS listener.
    https: bool,
}

/// What the proxy needs to serve; shared by every connection.
pub struct Proxy {
    routes: RouteHandle,
    /// Pooled keep-alive connections to upstreams.
    upstreams: Arc<upstream::Upstreams>,
    /// Answers requests under the portal's reserved prefix.
    portal: Portal,
    settings: Settings,
    /// `settings.scheme` as a header value, announced in X-Forwarded-Proto.
    scheme: HeaderValue,
    /// `https`, announced in X-Forwarded-Proto for requests from the TLS listener.
    https_scheme: HeaderValue,
    /// Certificates, ACME challenges and the HTTPS redirect; `None` without HTTPS.
    tls: Option<tls::TlsSite>,
}

impl Proxy {
    /// A proxy with these settings; `portal` answers the portal's routes (any tower service, e.g.
    /// an axum router), so this crate knows nothing of how the portal is built.
    pub fn with_settings<S, B>(routes: RouteHandle, portal: S, settings: Settings) -> Proxy
    where
        S: tower::Service<Request<RequestBody>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Proxy {
            routes,
            upstreams: upstream::Upstreams::new(
                settings.connect_timeout,
                settings.idle_timeout,
                None,
            ),
            portal: BoxCloneSyncService::new(portal.map_response(|res| res.map(ProxyBody::other))),
            scheme: HeaderValue::from_str(&settings.scheme)
                .unwrap_or(HeaderValue::from_static("http")),
            settings,
            https_scheme: HeaderValue::from_static("https"),
            tls: None,
        }
    }

    /// Makes new upstream connections through `dialer` (swarm mode's overlay sockets) instead
    /// of plain connects from the host, for the addresses it takes.
    pub fn with_dialer(mut self, dialer: Arc<dyn upstream::Dialer>) -> Proxy {
        self.upstreams = upstream::Upstreams::new(
            self.settings.connect_timeout,
            self.settings.idle_timeout,
            Some(dialer),
        );
        self
    }

    /// Serves HTTPS with `site`'s certificates ([`Proxy::serve_tls`]) and, on plain HTTP, its
    /// ACME challenges and the redirect to HTTPS for names with a valid certificate.
    pub fn with_tls(mut self, site: tls::TlsSite) -> Proxy {
        self.tls = Some(site);
        self
    }

    /// Accepts connections until `shutdown` resolves, then lets in-flight requests finish (up to
    /// the shutdown deadline).
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        self.accept_until(listener, shutdown, false, "plain", visitor::serve)
            .await;
    }

    async fn handle(
        &self,
        req: Request<RequestBody>,
        client: &ClientConn,
    ) -> Result<Response<ProxyBody>, Infallible> {
        let start = Instant::now();
        // hyper settles a head with both Content-Length and Transfer-Encoding by itself (chunked
        // wins, connection closed after); the issue wants such requests refused outright.
        if client.framing.take_both() && req.headers().contains_key(header::TRANSFER_ENCODING) {
            let mut res = page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "The request has both Content-Length and Transfer-Encoding.",
                pages::wants_json(req.headers()),
                &self.settings.portal_path,
            );
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Ok(self.unrouted(&req, start, res));
        }
        // A request without a body ends with its head: the next bytes are the next head.
        let has_body = !req.body().is_end_stream();
        if !has_body {
            client.framing.resume();
        }
        let json = pages::wants_json(req.headers());
        // The RFC's request rules (`rules`); `visitor` checked Host on the heads it read itself.
        let checked = match req.body() {
            RequestBody::Hyper(_) => rules::check_host(req.version(), req.headers()),
            RequestBody::Empty => Ok(()),
        }
        .and_then(|()| rules::check_target(&req));
        if let Err(refused) = checked {
            let title = match refused.status {
                StatusCode::BAD_REQUEST => "Bad request",
                _ => "Not implemented",
            };
            let mut res = page(
                refused.status,
                title,
                refused.detail,
                json,
                &self.settings.portal_path,
            );
            // Its body (if any) is left unread: the connection cannot carry another request.
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Ok(self.unrouted(&req, start, res));
        }
        let mut req = req;
        // Absolute-form: the target's authority is the host (RFC 9112 §3.2.2), for routing and
        // for the project, whatever the Host header said.
        if let Some(host) = rules::absolute_host(&req) {
            req.headers_mut().insert(header::HOST, host);
        }
        // A member's domain's proof token, for any host, before any route or redirect.
        if let Some(token) = self.routes.load().domain_proof(req.uri().path()) {
            return Ok(self.unrouted(&req, start, pages::plain_text(token.to_string())));
        }
        // Plain HTTP with HTTPS on: ACME's challenge answers, before any routing or redirect,
        // then the redirect to HTTPS for a name with a valid certificate.
        if !client.https
            && let Some(site) = &self.tls
        {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok());
            if let Some(res) = site.plain_http(&req, host) {
                return Ok(self.unrouted(&req, start, res));
            }
        }
        if req.method() == Method::OPTIONS && rules::max_forwards(req.headers_mut()) {
            // Max-Forwards: 0 makes the proxy the final recipient (RFC 9110 §7.6.2).
            let mut res = Response::new(ProxyBody::other(http_body_util::Empty::new()));
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(rules::ALLOW));
            return Ok(self.unrouted(&req, start, res));
        }
        let table = self.routes.load_full();
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().host());
        let route = match table.lookup_host(host, req.uri().path()) {
            // No root project: the club's front door (the portal's page for `/`) answers `/`.
            Match::NotFound if let Some(portal) = front_door(&table, &req) => portal,
            Match::NotFound => {
                let res = page(
                    StatusCode::NOT_FOUND,
                    "Nothing is hosted here",
                    "No club project lives at this address.",
                    json,
                    &self.settings.portal_path,
                );
                return Ok(self.unrouted(&req, start, res));
            }
            Match::AddSlash => {
                let res = add_slash(&req, &self.settings.portal_path);
                return Ok(self.unrouted(&req, start, res));
            }
            // The upstream path is the client's minus `route.prefix` (see `h1::request_target`).
            Match::Route { route, .. } => route,
        };
        let res = match &route.target {
            // Reached by its path while it lives on its own host: send the visitor there.
            Target::Portal if !route.prefix.is_empty() && self.settings.portal_host.is_some() => {
                let res = to_portal_host(&req, route, &self.settings);
                return Ok(self.finish(
                    req.method(),
                    req.uri().path(),
                    &route.stats,
                    &route.name,
                    start,
                    None,
                    res,
                ));
            }
            Target::Portal => {
                let mut req = req;
                // The portal throttles logins per address; it reads the peer from this.
                req.extensions_mut().insert(Peer(client.peer));
                if client.https {
                    req.extensions_mut().insert(Https);
                }
                // The access log line wants the request as the visitor sent it; the portal
                // consumes it. Portal requests are few next to project traffic.
                let method = req.method().clone();
                let path = req.uri().path().to_string();
                let Ok(res) = self.portal.clone().oneshot(req).await;
                if has_body {
                    // The portal has read (or dropped) the body by the time it answers.
                    client.framing.resume();
                }
                return Ok(self.finish(
                    &method,
                    &path,
                    &route.stats,
                    &route.name,
                    start,
                    None,
                    res,
                ));
            }
            Target::Unavailable { state, about } => {
                let detail = match about {
                    Some(about) => format!("This project is {state}. {about}"),
                    None => format!("This project is {state} right now."),
                };
                let res = page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("{} is not running", route.name),
                    &detail,
                    json,
                    &self.settings.portal_path,
                );
                return Ok(self.finish(
                    req.method(),
                    req.uri().path(),
                    &route.stats,
                    &route.name,
                    start,
                    None,
                    res,
                ));
            }
            Target::Upstream(addr) => self.forward(req, client, *addr, route, json, start).await,
        };
        Ok(res)
    }

    /// [`Proxy::finish`] for an answer that belongs to no route (404, a redirect, a refusal).
    fn unrouted<B>(
        &self,
        req: &Request<B>,
        start: Instant,
        res: Response<ProxyBody>,
    ) -> Response<ProxyBody> {
        self.finish(
            req.method(),
            req.uri().path(),
            metrics::unrouted(),
            "-",
            start,
            None,
            res,
        )
    }

    /// Records metrics and the access log line for a response about to be sent.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        method: &Method,
        path: &str,
        stats: &metrics::ProjectStats,
        project: &str,
        start: Instant,
        upstream: Option<Duration>,
        res: Response<ProxyBody>,
    ) -> Response<ProxyBody> {
        let total = start.elapsed();
        stats.record(res.status().as_u16());
        metrics::observe_latency(total);
        if let Some(format) = self.settings.access_log {
            access::log(
                format,
                &access::Entry {
                    project,
                    method: method.as_str(),
                    path,
                    status: res.status().as_u16(),
                    bytes: res.body().size_hint().exact(),
                    total,
                    upstream,
                },
            );
        }
        res
    }

    #[allow(clippy::too_many_arguments)]
    async fn forward(
        &self,
        mut req: Request<RequestBody>,
        client: &ClientConn,
        addr: SocketAddr,
        route: &Route,
        json: bool,
        start: Instant,
    ) -> Response<ProxyBody> {
        // The access log wants the client's view of the request, not the upstream's: keep the
        // client's path (only when it is logged, to spare the allocation otherwise).
        let method = req.method().clone();
        let client_path = match self.settings.access_log {
            Some(_) => req.uri().path().to_owned(),
            None => String::new(),
        };
        let fail = |status, title: String, detail: &str| {
            let res = page(status, &title, detail, json, &self.settings.portal_path);
            self.finish(
                &method,
                &client_path,
                &route.stats,
                &route.name,
                start,
                None,
                res,
            )
        };

        // A declared body over the limit is refused before anything goes upstream.
        let max_body_size = route
            .limits
            .max_body_size
            .unwrap_or(self.settings.max_body_size);
        let declared = req.body().size_hint().exact();
        if declared.is_some_and(|n| n > max_body_size) {
            return fail(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request too large".into(),
                "The request body is larger than this server accepts.",
            );
        }
        // The upstream's path is the client's minus the route's prefix (`h1::request_target`).
        if req.uri().path().get(route.prefix.len()..).is_none() {
            return fail(
                StatusCode::BAD_REQUEST,
                "Bad request".into(),
                "Malformed path.",
            );
        }
        // Needed afterwards only to rewrite absolute Locations under the prefix.
        let client_host = (route.rewrite && !route.prefix.is_empty())
            .then(|| req.headers().get(header::HOST).cloned())
            .flatten();
        // Only a WebSocket upgrade goes on (`rules::websocket_upgrade`); any other Upgrade (h2c)
        // is dropped below with the hop-by-hop headers and the request is forwarded as a plain
        // one, so the project never switches a visitor's connection past the proxy's rules.
        // One lookup on the common path: most requests offer no upgrade at all.
        let offered = req.headers().contains_key(header::UPGRADE);
        let upgrade = (offered && rules::websocket_upgrade(req.version(), req.headers()))
            .then(|| hyper::upgrade::on(&mut req));
        // The proxy speaks HTTP/1.1 upstream whatever the visitor spoke (keep-alive pools).
        *req.version_mut() = Version::HTTP_11;
        let headers = req.headers_mut();
        if !headers.contains_key(header::HOST)
            && let Some(authority) = &route.authority
            && let Ok(host) = HeaderValue::from_str(authority.as_str())
        {
            headers.insert(header::HOST, host);
        }
        forwarded::strip_hop_by_hop(headers);
        // Connection-specific to h2c (RFC 9113 §3.2.1), even when Connection does not name it;
        // without an Upgrade it offers nothing, so only then is it looked for.
        if offered {
            headers.remove(rules::HTTP2_SETTINGS);
        }
        if upgrade.is_some() {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        }
        // What the visitor used, announced in X-Forwarded-Proto.
        let scheme = match client.https {
            true => &self.https_scheme,
            false => &self.scheme,
        };
        let forwarded = forwarded::forwarded(
            headers,
            &forwarded::Hop {
                peer: client.peer,
                peer_ip: &client.peer_ip,
                trusted: self.settings.trusts(client.peer.ip()),
                scheme,
                prefix: route.prefix_header.as_ref(),
            },
        );

        let (parts, incoming) = req.into_parts();
        // Requests without a body that are safe to repeat may be retried once on a connect
        // failure or a pooled connection the upstream had closed (`upstream::Upstreams::send`).
        let retry = upgrade.is_none() && incoming.is_end_stream() && idempotent(&parts.method);
        let fault = (!incoming.is_end_stream()).then(|| Arc::new(FaultCell::default()));
        let body = match &fault {
            None => UpstreamBody::Empty,
            Some(f) => {
                UpstreamBody::limited(incoming, max_body_size, f.clone(), client.framing.clone())
            }
        };
        // The project's cap on upstream connections (`Settings::max_conns_per_route`), and past
        // it a bounded wait for one (`caps`).
        let cap = route
            .limits
            .max_conns
            .unwrap_or(self.settings.max_conns_per_route);
        let wait = route
            .limits
            .response_header_timeout
            .unwrap_or(self.settings.response_header_timeout);
        let lease = match route.stats.slots.try_lease(cap) {
            Some(lease) => lease,
            None => {
                let max_waiting = route
                    .limits
                    .max_waiting
                    .unwrap_or(self.settings.max_waiting_per_route);
                let timeout = self.settings.queue_timeout.min(wait);
                match route.stats.slots.wait(cap, max_waiting, timeout).await {
                    Ok(lease) => lease,
                    Err(refused) => {
                        let title = format!("{} is busy", route.name);
                        return fail(StatusCode::SERVICE_UNAVAILABLE, title, refused.detail());
                    }
                }
            }
        };
        let sent = Instant::now();
        let outgoing = upstream::Outgoing {
            strip: route.prefix.len(),
            forwarded: &forwarded,
            wait,
            retry,
        };
        let result = self
            .upstreams
            .send(addr, Request::from_parts(parts, body), &outgoing)
            .await;
        let upstream_time = sent.elapsed();
        let res = match result {
            Ok(res) => res,
            Err(e) => {
                let (status, title, detail) = match fault.as_ref().map_or(Fault::None, |f| f.get())
                {
                    Fault::TooLarge => (
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Request too large".to_string(),
                        "The request body is larger than this server accepts.",
                    ),
                    Fault::Broken => (
                        StatusCode::BAD_REQUEST,
                        "Bad request".to_string(),
                        "The request body was malformed or cut short.",
                    ),
                    Fault::None => {
                        route.stats.upstream_error();
                        tracing::warn!(project = %route.name, upstream = %addr, error = %e, "upstream failed");
                        match e {
                            upstream::UpstreamError::Timeout => (
                                StatusCode::GATEWAY_TIMEOUT,
                                format!("{} is not answering", route.name),
                                "The project's server took too long to answer. Try again in a moment.",
                            ),
                            _ => (
                                StatusCode::BAD_GATEWAY,
                                format!("{} is not answering", route.name),
                                "The project's server did not answer. Try again in a moment.",
                            ),
                        }
                    }
                };
                return fail(status, title, detail);
            }
        };
        let (mut parts, mut body) = res.into_parts();
        let body = if parts.status == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_side) = upgrade
            && let Some(conn) = body.take_tunnel()
        {
            // From here on the client's bytes are the upgraded protocol's, not HTTP heads.
            client.framing.switch_off();
            tokio::spawn(tunnel(client_side, conn, lease));
            ProxyBody::other(http_body_util::Empty::new())
        } else if parts.status == StatusCode::SWITCHING_PROTOCOLS {
            // A switch nobody asked for: passed on, the visitor would take what follows for the
            // new protocol. The upstream connection closes with `body`.
            route.stats.upstream_error();
            tracing::warn!(project = %route.name, upstream = %addr, "upstream switched protocols unasked");
            return fail(
                StatusCode::BAD_GATEWAY,
                format!("{} is not answering", route.name),
                "The project's server sent an answer the proxy cannot pass on.",
            );
        } else {
            // `h1` left hop-by-hop headers out of every response but a 101.
            ProxyBody::Upstream(body, lease)
        };
        if route.rewrite {
            let host = client_host.as_ref().and_then(|h| h.to_str().ok());
            forwarded::rewrite_response(&mut parts.headers, &route.prefix, host);
        }
        let res = Response::from_parts(parts, body);
        self.finish(
            &method,
            &client_path,
            &route.stats,
            &route.name,
            start,
            Some(upstream_time),
            res,
        )
    }
}

/// Carries an upgraded (WebSocket) connection both ways until either side closes. The upstream
/// connection belongs to this tunnel, never to the pool again, and counts against its project's
/// cap (`lease`) until the tunnel ends.
async fn tunnel(client: hyper::upgrade::OnUpgrade, mut upstream: h1::Conn, _lease: caps::Lease) {
    let Ok(client) = client.await else { return };
    let mut client = TokioIo::new(client);
    // Bytes the upstream sent right after its 101 head belong to the client.
    if !upstream.buf.is_empty() {
        use tokio::io::AsyncWriteExt;
        if client.write_all(&upstream.buf).await.is_err() {
            return;
        }
        upstream.buf.clear();
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream.stream).await;
}

fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// The portal's route when `req` is a GET or HEAD of `/` that no route takes: the portal shows the
/// club's front page there instead of a 404. Any other path stays a 404.
fn front_door<'t, B>(table: &'t routes::RouteTable, req: &Request<B>) -> Option<&'t Route> {
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    (read && req.uri().path() == "/")
        .then(|| table.portal())
        .flatten()
}
