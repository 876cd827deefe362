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
mod forward;
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
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

pub use access::LogFormat;
use body::RequestBody;
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
}

/// The portal's route when `req` is a GET or HEAD of `/` that no route takes: the portal shows the
/// club's front page there instead of a 404. Any other path stays a 404.
fn front_door<'t, B>(table: &'t routes::RouteTable, req: &Request<B>) -> Option<&'t Route> {
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    (read && req.uri().path() == "/")
        .then(|| table.portal())
        .flatten()
}
