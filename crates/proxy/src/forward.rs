//! One request to a project's upstream: the forwarded head, the body both ways, retries of
//! idempotent requests on a fresh connection, and WebSocket tunnels after a 101.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::body::Body;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;

use crate::body::{Fault, FaultCell, RequestBody, UpstreamBody};
use crate::pages::page;
use crate::routes::Route;
use crate::{ClientConn, Proxy, ProxyBody, caps, forwarded, h1, rules, upstream};

impl Proxy {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn forward(
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
