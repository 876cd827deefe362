//! The HTTPS listener: TLS handshakes (rustls, certificates by SNI from [`super::CertStore`]),
//! ACME TLS-ALPN-01 validations answered with the challenge certificate and closed, ALPN `h2`
//! then `http/1.1`, and hyper's server for either (HTTP/2 from visitors; upstreams stay
//! HTTP/1.1, see `Proxy::forward`).
//!
//! The header read timeout bounds the handshake too: a client that opens a connection and never
//! finishes its hello (slowloris on TLS) is dropped after it, like one that never sends a head.
//! Requests on TLS connections go through hyper's server rather than the plain listener's own
//! codec (`visitor`): that codec reads a `TcpStream`, and TLS traffic is new.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Version};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::body::RequestBody;
use crate::{ClientConn, Proxy, framing};

/// The rustls server configuration: ring, TLS 1.2 and 1.3, certificates from `site`'s store,
/// ALPN `h2` preferred over `http/1.1`, and ACME's `acme-tls/1` answered with the name's
/// challenge certificate (TLS-ALPN-01, RFC 8737).
fn server_config(site: &super::TlsSite) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(super::SiteResolver {
            certs: site.certs.clone(),
            challenges: site.challenges.clone(),
        }));
    // `acme-tls/1` last: only an ACME validator offers it, and it offers nothing else.
    config.alpn_protocols = vec![
        b"h2".to_vec(),
        b"http/1.1".to_vec(),
        super::ACME_TLS_ALPN.to_vec(),
    ];
    Arc::new(config)
}

impl Proxy {
    /// Accepts TLS connections on `listener` until `shutdown` resolves, then lets requests in
    /// flight finish (up to the shutdown deadline). Needs the proxy built with
    /// [`Proxy::with_tls`]; without it, nothing is served (and a warning logged).
    pub async fn serve_tls(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let Some(site) = self.tls.clone() else {
            tracing::warn!("HTTPS listener without certificates; not serving it");
            return;
        };
        let acceptor = TlsAcceptor::from(server_config(&site));
        self.accept_until(
            listener,
            shutdown,
            true,
            "TLS",
            move |stream, client, closing| {
                serve_connection(stream, client, acceptor.clone(), site.clone(), closing)
            },
        )
        .await;
    }
}

/// One TLS connection: the handshake (bounded by the header read timeout), then HTTP/2 or
/// HTTP/1.1 as ALPN chose.
async fn serve_connection(
    stream: TcpStream,
    client: Arc<ClientConn>,
    acceptor: TlsAcceptor,
    site: super::TlsSite,
    mut closing: watch::Receiver<bool>,
) {
    let settings = &client.proxy.settings;
    let (header_read_timeout, max_header_size) =
        (settings.header_read_timeout, settings.max_header_size);
    let tls = match tokio::time::timeout(header_read_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(peer = %client.peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = %client.peer, "TLS handshake timed out");
            return;
        }
    };
    if tls.get_ref().1.alpn_protocol() == Some(super::ACME_TLS_ALPN) {
        // A TLS-ALPN-01 validation: the handshake was the answer; nothing is served after it.
        let mut tls = tls;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
        return;
    }
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let hsts = site.hsts();
    // The CL+TE watch (`framing`) shares its flags with the handler through `client`.
    let framing = client.framing.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let client = client.clone();
        let certs = site.certs.clone();
        let hsts = hsts.clone();
        async move {
            let mut req = req.map(RequestBody::Hyper);
            // HTTP/2 carries the host as :authority; the routing and the upstream's HTTP/1.1
            // want a Host header (RFC 9113 §8.3.1).
            if req.version() == Version::HTTP_2
                && !req.headers().contains_key(header::HOST)
                && let Some(authority) = req.uri().authority()
                && let Ok(host) = HeaderValue::from_str(authority.as_str())
            {
                req.headers_mut().insert(header::HOST, host);
            }
            let host_valid = hsts.is_some()
                && req
                    .headers()
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .is_some_and(|h| certs.valid(h));
            let Ok(mut res) = client.proxy.handle(req, &client).await;
            if let (true, Some(hsts)) = (host_valid, hsts) {
                res.headers_mut()
                    .insert(header::STRICT_TRANSPORT_SECURITY, hsts);
            }
            Ok::<_, Infallible>(res)
        }
    });
    let result = if h2 {
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(max_header_size).unwrap_or(u32::MAX))
            .serve_connection(TokioIo::new(tls), service);
        tokio::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => r,
            () = async { let _ = closing.wait_for(|c| *c).await; } => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        }
    } else {
        let io = TokioIo::new(framing::HeadWatch::new(tls, framing, Bytes::new()));
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .max_header_size(max_header_size)
            .serve_connection(io, service)
            .with_upgrades();
        tokio::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => r,
            () = async { let _ = closing.wait_for(|c| *c).await; } => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "TLS connection ended with an error");
    }
}
