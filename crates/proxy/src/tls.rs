//! HTTPS for visitors: the certificates the proxy serves (picked by SNI), the ACME HTTP-01 tokens
//! it answers on plain HTTP, and the plain-HTTP rules that go with them (challenge first, then the
//! redirect to HTTPS for a name with a valid certificate). The TLS listener itself is in
//! [`listener`].
//!
//! This crate knows nothing of ACME: clubhost-core orders certificates and puts them here
//! ([`CertStore::insert`]), and hands out HTTP-01 tokens through [`Challenges`]. Both are shared
//! handles the control plane writes and the proxy only reads.
//!
//! Why a map swapped whole (like the route table) rather than a lock: every handshake reads it,
//! writes are rare (an issuance, a renewal). A name with no certificate gets no handshake at all
//! (no default, never a self-signed one): it is served on plain HTTP until its certificate comes.

pub(crate) mod listener;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::ProxyBody;

/// The path prefix of ACME HTTP-01 challenges (RFC 8555 §8.3).
pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// The ALPN protocol of ACME TLS-ALPN-01 validation (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Why a certificate cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The chain holds no certificate, or one that is not PEM.
    #[error("certificate chain: {0}")]
    Chain(String),
    /// The key is not PEM, or not a kind rustls can sign with (ring: ECDSA, Ed25519, RSA).
    #[error("private key: {0}")]
    Key(String),
}

/// A certificate ready to serve: its chain and signing key, and when it stops being valid.
#[derive(Clone)]
pub struct Certificate {
    key: Arc<CertifiedKey>,
    not_after: SystemTime,
}

impl fmt::Debug for Certificate {
    // The key is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// A certificate from its PEM chain (leaf first) and PEM private key (PKCS#8, SEC1 or
    /// PKCS#1); `not_after` is the leaf's expiry, which the caller has read from it.
    pub fn from_pem(chain: &str, key: &str, not_after: SystemTime) -> Result<Self, TlsError> {
        let certs = CertificateDer::pem_slice_iter(chain.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Chain(e.to_string()))?;
        if certs.is_empty() {
            return Err(TlsError::Chain("no certificate in it".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
            .map_err(|e| TlsError::Key(e.to_string()))?;
        let signer = any_supported_type(&key).map_err(|e| TlsError::Key(e.to_string()))?;
        Ok(Certificate {
            key: Arc::new(CertifiedKey::new(certs, signer)),
            not_after,
        })
    }

    /// When the leaf expires.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }
}

/// The certificates served, by name: exact names, and `*.<parent>` for a wildcard a club brings.
/// Cloning shares the same store.
#[derive(Clone, Default)]
pub struct CertStore {
    map: Arc<ArcSwap<HashMap<String, Certificate>>>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let map = self.map.load();
        f.debug_struct("CertStore")
            .field("names", &map.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl CertStore {
    /// An empty store: no name is served over TLS.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `cert` for each of `names` (lowercase; `*.example.org` for a wildcard), replacing
    /// what they had. The map is copied and swapped: handshakes in progress keep the old one.
    pub fn insert(&self, names: &[String], cert: Certificate) {
        self.map.rcu(|old| {
            let mut map = HashMap::clone(old);
            for name in names {
                map.insert(name.to_ascii_lowercase(), cert.clone());
            }
            map
        });
    }

    /// Stops serving `name` over TLS.
    pub fn remove(&self, name: &str) {
        self.map.rcu(|old| {
            let mut map = HashMap::clone(old);
            map.remove(&name.to_ascii_lowercase());
            map
        });
    }

    /// The certificate for `name` (a host without port), exact name first, then a wildcard one
    /// label up; `None` when it has none that is still valid.
    fn lookup(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let name = name.trim_end_matches('.');
        let map = self.map.load();
        let found = map.get(name).or_else(|| {
            let (_, parent) = name.split_once('.')?;
            map.get(&format!("*.{parent}"))
        })?;
        (SystemTime::now() < found.not_after).then(|| found.key.clone())
    }

    /// Whether `host` (a Host header value, port allowed, any case) has a valid certificate:
    /// then plain HTTP redirects to HTTPS and HTTPS answers carry HSTS.
    pub fn valid(&self, host: &str) -> bool {
        let name = host_name(host).to_ascii_lowercase();
        self.lookup(&name).is_some()
    }

    /// The names served, with the expiry of each one's certificate.
    pub fn names(&self) -> Vec<(String, SystemTime)> {
        let mut names: Vec<_> = self
            .map
            .load()
            .iter()
            .map(|(n, c)| (n.clone(), c.not_after))
            .collect();
        names.sort();
        names
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // rustls lowercases the SNI name. No SNI (an IP address): no certificate, no handshake.
        self.lookup(hello.server_name()?)
    }
}

impl fmt::Debug for Challenges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Challenges").finish_non_exhaustive()
    }
}

/// ACME HTTP-01 tokens and their key authorizations, and TLS-ALPN-01 challenge certificates by
/// name, set by the ACME client while an order is pending. Cloning shares the same maps.
#[derive(Clone, Default)]
pub struct Challenges {
    tokens: Arc<Mutex<HashMap<String, String>>>,
    alpn: Arc<Mutex<HashMap<String, Certificate>>>,
}

impl Challenges {
    /// Answers `GET /.well-known/acme-challenge/<token>` with `key_authorization` from now on.
    pub fn set(&self, token: &str, key_authorization: &str) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.insert(token.to_string(), key_authorization.to_string());
    }

    /// Forgets `token` (its order is done, either way).
    pub fn remove(&self, token: &str) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.remove(token);
    }

    fn get(&self, token: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.get(token).cloned()
    }

    /// Answers a TLS-ALPN-01 handshake (ALPN `acme-tls/1`) for `name` with `cert` (the challenge
    /// certificate, RFC 8737 §3) from now on.
    pub fn set_alpn(&self, name: &str, cert: Certificate) {
        let mut alpn = self.alpn.lock().unwrap_or_else(|e| e.into_inner());
        alpn.insert(name.to_ascii_lowercase(), cert);
    }

    /// Forgets `name`'s TLS-ALPN-01 certificate (its order is done, either way).
    pub fn remove_alpn(&self, name: &str) {
        let mut alpn = self.alpn.lock().unwrap_or_else(|e| e.into_inner());
        alpn.remove(&name.to_ascii_lowercase());
    }

    fn alpn_cert(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let alpn = self.alpn.lock().unwrap_or_else(|e| e.into_inner());
        alpn.get(name.trim_end_matches('.')).map(|c| c.key.clone())
    }
}

/// What the HTTPS listener's handshakes are answered with: a validator's `acme-tls/1` hello gets
/// the name's challenge certificate (or no handshake), every other hello the name's certificate
/// from the store (or no handshake).
#[derive(Debug)]
pub(crate) struct SiteResolver {
    pub(crate) certs: CertStore,
    pub(crate) challenges: Challenges,
}

impl ResolvesServerCert for SiteResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?.to_string();
        let validating = hello
            .alpn()
            .is_some_and(|mut offered| offered.any(|p| p == ACME_TLS_ALPN));
        if validating {
            return self.challenges.alpn_cert(&name);
        }
        self.certs.lookup(&name)
    }
}

/// What the proxy needs for HTTPS: the certificates, the challenge tokens, and how it points
/// visitors at its TLS listener.
#[derive(Debug, Clone)]
pub struct TlsSite {
    /// Certificates by name.
    pub certs: CertStore,
    /// Pending HTTP-01 tokens.
    pub challenges: Challenges,
    /// The HTTPS listener's port, for the redirect's Location (left out when 443).
    pub https_port: u16,
    /// `Strict-Transport-Security: max-age=…` on HTTPS answers for names with a valid
    /// certificate; `None` (or zero) sends none.
    pub hsts_max_age: Option<Duration>,
}

/// The host part of a Host value (`club.example:8080` → `club.example`, `[::1]:80` → `[::1]`).
fn host_name(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    }
}

impl TlsSite {
    /// For a request that came over plain HTTP: the ACME challenge answer (whatever the host, and
    /// before any route or redirect, so a route with a prefix or a redirect never breaks
    /// issuance), else a 308 to HTTPS when the host has a valid certificate, else `None` (served
    /// as usual).
    pub(crate) fn plain_http<B>(
        &self,
        req: &Request<B>,
        host: Option<&str>,
    ) -> Option<Response<ProxyBody>> {
        let path = req.uri().path();
        if let Some(token) = path.strip_prefix(CHALLENGE_PREFIX) {
            let (status, body) = match self.challenges.get(token) {
                Some(key_authorization) => (StatusCode::OK, key_authorization),
                None => (StatusCode::NOT_FOUND, String::new()),
            };
            let mut res = Response::new(ProxyBody::other(http_body_util::Full::new(
                bytes::Bytes::from(body),
            )));
            *res.status_mut() = status;
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            return Some(res);
        }
        let host = host?;
        if !self.certs.valid(host) {
            return None;
        }
        let name = host_name(host);
        let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let location = match self.https_port {
            443 => format!("https://{name}{target}"),
            port => format!("https://{name}:{port}{target}"),
        };
        let location = HeaderValue::from_str(&location).ok()?;
        let mut res = Response::new(ProxyBody::other(http_body_util::Empty::new()));
        *res.status_mut() = StatusCode::PERMANENT_REDIRECT;
        res.headers_mut().insert(header::LOCATION, location);
        Some(res)
    }

    /// The HSTS header value, if HSTS is on.
    pub(crate) fn hsts(&self) -> Option<HeaderValue> {
        let age = self.hsts_max_age.filter(|a| !a.is_zero())?;
        HeaderValue::from_str(&format!("max-age={}", age.as_secs())).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_name_drops_the_port_only() {
        assert_eq!(host_name("club.example:8443"), "club.example");
        assert_eq!(host_name("club.example"), "club.example");
        assert_eq!(host_name("[::1]:80"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
    }

    fn cert(names: &[&str], not_after: SystemTime) -> Certificate {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let c = params.self_signed(&key).unwrap();
        Certificate::from_pem(&c.pem(), &key.serialize_pem(), not_after).unwrap()
    }

    #[test]
    fn lookup_exact_then_wildcard_and_never_expired() {
        let store = CertStore::new();
        let later = SystemTime::now() + Duration::from_secs(3600);
        store.insert(&["club.example".into()], cert(&["club.example"], later));
        store.insert(&["*.club.example".into()], cert(&["*.club.example"], later));
        assert!(store.valid("club.example:443"));
        assert!(store.valid("Blog.Club.Example"));
        assert!(
            !store.valid("a.b.club.example"),
            "a wildcard covers one label"
        );
        assert!(!store.valid("other.example"));
        let past = SystemTime::now() - Duration::from_secs(1);
        store.insert(&["old.example".into()], cert(&["old.example"], past));
        assert!(
            !store.valid("old.example"),
            "an expired certificate is not served"
        );
        store.remove("club.example");
        assert!(!store.valid("club.example"));
    }

    #[test]
    fn bad_pem_is_an_error_that_says_which_part() {
        let e = Certificate::from_pem("nothing", "nothing", SystemTime::now()).unwrap_err();
        assert!(matches!(e, TlsError::Chain(_)), "{e}");
        let key = rcgen::KeyPair::generate().unwrap();
        let c = rcgen::CertificateParams::new(vec!["a.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let e = Certificate::from_pem(&c.pem(), "garbage", SystemTime::now()).unwrap_err();
        assert!(matches!(e, TlsError::Key(_)), "{e}");
    }
}
