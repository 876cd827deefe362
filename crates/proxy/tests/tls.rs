//! The HTTPS listener in-process (issue 16), with certificates made here by rcgen and a recording
//! upstream: SNI picks each name's certificate, ALPN gives HTTP/2 (forwarded upstream as
//! HTTP/1.1 with `X-Forwarded-Proto: https`), HSTS, no handshake for a name without a
//! certificate, the handshake bounded by the header read timeout, and on plain HTTP the ACME
//! challenge answer and the 308 to HTTPS.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use clubhost_proxy::routes::{RouteHandle, RouteTable};
use clubhost_proxy::tls::{CertStore, Certificate, Challenges, TlsSite};
use clubhost_proxy::{Proxy, Settings};
use http_body_util::Full;
use hyper::{Request, Response};
use support::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// A CA and certificates it signs, one per name.
struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl Ca {
    fn new() -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "proxy test CA");
        let cert = params.self_signed(&key).unwrap();
        Ca {
            issuer: rcgen::Issuer::new(params, key),
            pem: cert.pem(),
        }
    }

    fn cert(&self, name: &str) -> Certificate {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        let later = SystemTime::now() + Duration::from_secs(3600);
        Certificate::from_pem(&cert.pem(), &key.serialize_pem(), later).unwrap()
    }
}

struct Served {
    http: SocketAddr,
    https: SocketAddr,
    site: TlsSite,
}

/// The proxy with `specs`, HTTPS on with `certs`, both listeners on 127.0.0.1.
async fn start(specs: Vec<clubhost_proxy::routes::RouteSpec>, certs: CertStore) -> Served {
    let routes = RouteHandle::default();
    routes.swap(RouteTable::new(specs));
    let portal = tower::service_fn(|_req: Request<clubhost_proxy::body::RequestBody>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"portal"))))
    });
    let https = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = TlsSite {
        certs,
        challenges: Challenges::default(),
        https_port: https.local_addr().unwrap().port(),
        hsts_max_age: Some(Duration::from_secs(600)),
    };
    let settings = Settings {
        header_read_timeout: Duration::from_secs(1),
        ..settings()
    };
    let proxy = Arc::new(Proxy::with_settings(routes, portal, settings).with_tls(site.clone()));
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let served = Served {
        http: http.local_addr().unwrap(),
        https: https.local_addr().unwrap(),
        site,
    };
    tokio::spawn(proxy.clone().serve(http, std::future::pending()));
    tokio::spawn(proxy.serve_tls(https, std::future::pending()));
    served
}

fn client(ca: &Ca, names: &[&str], https: SocketAddr) -> reqwest::Client {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WAIT);
    for name in names {
        builder = builder.resolve(name, https);
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn sni_h2_forwarded_proto_and_hsts() {
    let ca = Ca::new();
    let certs = CertStore::new();
    certs.insert(&["a.club.test".into()], ca.cert("a.club.test"));
    certs.insert(&["b.club.test".into()], ca.cert("b.club.test"));
    let a = Recorder::start(Reply::ok("from a")).await;
    let b = Recorder::start(Reply::ok("from b")).await;
    let s = start(
        vec![
            host_route("a.club.test", "a", a.addr),
            host_route("b.club.test", "b", b.addr),
            host_route("nocert.club.test", "n", b.addr),
        ],
        certs,
    )
    .await;
    let port = s.https.port();
    let c = client(
        &ca,
        &["a.club.test", "b.club.test", "nocert.club.test"],
        s.https,
    );

    // Each name verifies against its own certificate (the client checks the name), over h2.
    for (name, body) in [("a.club.test", "from a"), ("b.club.test", "from b")] {
        let res = c
            .get(format!("https://{name}:{port}/p?q=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.version(), reqwest::Version::HTTP_2);
        assert_eq!(res.headers()["strict-transport-security"], "max-age=600");
        assert_eq!(res.text().await.unwrap(), body);
    }
    // Upstream: HTTP/1.1 with the host from :authority and the scheme the visitor used.
    let seen = a.received();
    assert!(seen.starts_with("GET /p?q=1 HTTP/1.1\r\n"), "{seen}");
    assert!(seen.contains("host: a.club.test"), "{seen}");
    assert!(seen.contains("x-forwarded-proto: https"), "{seen}");

    // No certificate for the name: no handshake.
    let refused = c
        .get(format!("https://nocert.club.test:{port}/"))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");

    // HTTP/1.1 over TLS when the client offers only that.
    let h1 = reqwest::Client::builder()
        .http1_only()
        .tls_backend_preconfigured({
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap())
                .unwrap();
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth()
        })
        .resolve("b.club.test", s.https)
        .build()
        .unwrap();
    let res = h1
        .get(format!("https://b.club.test:{port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    assert_eq!(res.text().await.unwrap(), "from b");
}

#[tokio::test]
async fn plain_http_challenge_then_redirect() {
    let ca = Ca::new();
    let certs = CertStore::new();
    certs.insert(&["a.club.test".into()], ca.cert("a.club.test"));
    let up = Recorder::start(Reply::ok("plain")).await;
    let s = start(
        vec![
            host_route("a.club.test", "a", up.addr),
            host_route("new.club.test", "n", up.addr),
        ],
        certs,
    )
    .await;
    s.site.challenges.set("tok123", "tok123.thumb");

    // The challenge is answered whatever the host, with or without a certificate.
    for host in ["a.club.test", "new.club.test"] {
        let r = send(
            s.http,
            format!("GET /.well-known/acme-challenge/tok123 HTTP/1.1\r\nHost: {host}\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert_eq!(r.status, 200, "{host}");
        assert_eq!(r.body, b"tok123.thumb");
    }
    let r = send(
        s.http,
        b"GET /.well-known/acme-challenge/other HTTP/1.1\r\nHost: a.club.test\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 404, "an unknown token: 404, not a redirect");
    s.site.challenges.remove("tok123");
    let r = send(
        s.http,
        b"GET /.well-known/acme-challenge/tok123 HTTP/1.1\r\nHost: a.club.test\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 404, "a removed token is gone");

    // A name with a certificate: 308 to HTTPS with path and query; without: served as before.
    let r = send(
        s.http,
        b"GET /x/y?z=1 HTTP/1.1\r\nHost: A.club.test:8080\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location").unwrap(),
        format!("https://A.club.test:{}/x/y?z=1", s.https.port())
    );
    let r = send(s.http, b"GET / HTTP/1.1\r\nHost: new.club.test\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"plain");
    assert!(up.received().contains("x-forwarded-proto: http\r\n"));
}

#[tokio::test]
async fn a_handshake_that_never_finishes_is_cut_off() {
    let s = start(Vec::new(), CertStore::new()).await;
    let started = Instant::now();
    let mut idle = tokio::net::TcpStream::connect(s.https).await.unwrap();
    let mut buf = [0u8; 16];
    // Half a ClientHello record header, then nothing.
    use tokio::io::AsyncWriteExt;
    idle.write_all(&[0x16, 0x03]).await.unwrap();
    let n = tokio::time::timeout(WAIT, idle.read(&mut buf))
        .await
        .expect("closed within the header read timeout")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}
