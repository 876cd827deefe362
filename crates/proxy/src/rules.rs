//! The RFC 9110/9112 request rules the proxy enforces before it routes anything, in one place so
//! both visitor parsers (clubhost's own in `visitor`, hyper's for the rest) refuse the same heads:
//! the Host header (RFC 9112 §3.2), which request-target form goes with which method (§3.2.1-4),
//! the methods a gateway in front of club projects refuses (TRACE, CONNECT), and which upgrades
//! may pass (WebSocket only).
//!
//! Why here and not in the handler's flow: each rule is what keeps the proxy and the project
//! agreeing on the request. Two Host lines let the proxy route by one while the project reads the
//! other; an `Upgrade: h2c` the project accepts turns the connection into an HTTP/2 tunnel past
//! every limit the proxy sets; an absolute-form target whose authority the proxy ignores routes
//! by a Host the RFC says to disregard.

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Version};

/// `HTTP2-Settings` (RFC 9113 §3.2.1): only meaningful with `Upgrade: h2c`, never forwarded.
pub(crate) const HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// Why a request is answered by the proxy itself instead of being forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The status the visitor gets (400, or 501 for CONNECT and TRACE).
    pub status: StatusCode,
    /// Shown on the error page.
    pub(crate) detail: &'static str,
}

const fn bad(detail: &'static str) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        detail,
    }
}

pub(crate) const TWO_HOSTS: Refusal = bad("The request has more than one Host header.");
pub(crate) const NO_HOST: Refusal = bad("An HTTP/1.1 request needs a Host header.");
pub(crate) const BAD_HOST: Refusal = bad("The request's Host header is not a host name.");

/// A Host field value RFC 9110 §7.2 allows: `uri-host [ ":" port ]`, or empty (a target without
/// an authority). Only the characters of a reg-name, an IP literal and a port; `@` (userinfo),
/// `/`, spaces and controls never. A byte scan, cheap enough for every request.
pub fn host_value_ok(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:%[]".contains(&b))
}

/// The Host rules of RFC 9112 §3.2 on a parsed head: exactly one Host line with a valid value
/// (none is allowed only before HTTP/1.1).
pub fn check_host(version: Version, headers: &HeaderMap) -> Result<(), Refusal> {
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err(TWO_HOSTS),
        (None, _) if version >= Version::HTTP_11 => Err(NO_HOST),
        (Some(host), _) if !host_value_ok(host.as_bytes()) => Err(BAD_HOST),
        _ => Ok(()),
    }
}

/// The rules on the method and the request-target (RFC 9112 §3.2.1-4, RFC 9110 §9.3.6, §9.3.8).
pub fn check_target<B>(req: &Request<B>) -> Result<(), Refusal> {
    let uri = req.uri();
    let method = req.method();
    if method == Method::CONNECT {
        // A tunnel to anywhere is not what a club's gateway offers.
        return Err(Refusal {
            status: StatusCode::NOT_IMPLEMENTED,
            detail: "This server does not open tunnels (CONNECT).",
        });
    }
    if method == Method::TRACE {
        // TRACE echoes the request back, cookies and credentials included (cross-site tracing);
        // no project needs it, so it never reaches one.
        return Err(Refusal {
            status: StatusCode::NOT_IMPLEMENTED,
            detail: "This server does not answer TRACE.",
        });
    }
    match (uri.scheme_str(), uri.authority()) {
        // Authority-form belongs to CONNECT only (§3.2.3).
        (None, Some(_)) => Err(bad("Only CONNECT takes a host as its target.")),
        (Some(scheme), Some(authority)) => {
            if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
                return Err(bad("The request's target is not an http or https address."));
            }
            // RFC 9110 §4.2.4: userinfo in an http(s) URI is to be treated as an error.
            if authority.as_str().contains('@') || !host_value_ok(authority.as_str().as_bytes()) {
                return Err(bad("The request's target names no valid host."));
            }
            Ok(())
        }
        // Asterisk-form belongs to OPTIONS only (§3.2.4).
        _ if uri.path() == "*" && method != Method::OPTIONS => {
            Err(bad("Only OPTIONS takes * as its target."))
        }
        _ => Ok(()),
    }
}

/// For an absolute-form target (`GET http://club.example/x`): the authority to use as Host. RFC
/// 9112 §3.2.2: the target's authority wins over the Host header, which is replaced by it.
pub fn absolute_host<B>(req: &Request<B>) -> Option<HeaderValue> {
    let authority = req.uri().authority()?;
    HeaderValue::from_str(authority.as_str()).ok()
}

/// For an OPTIONS request's headers, RFC 9110 §7.6.2: an intermediary answers an OPTIONS whose
/// Max-Forwards is 0 itself (true) and forwards a larger value one less. (TRACE, the other
/// method it applies to, never passes; the caller checks the method.) A value that is not a
/// number is forwarded as it came: the rule only covers valid ones.
pub(crate) fn max_forwards(headers: &mut HeaderMap) -> bool {
    let Some(n) = headers
        .get(header::MAX_FORWARDS)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        return false;
    };
    if n == 0 {
        return true;
    }
    headers.insert(header::MAX_FORWARDS, HeaderValue::from(n - 1));
    false
}

/// What the proxy answers as an OPTIONS request's final recipient: the methods it forwards.
pub(crate) const ALLOW: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Whether the request asks for a WebSocket upgrade the proxy may pass on: HTTP/1.1 (RFC 9110
/// §7.8: an Upgrade in an HTTP/1.0 request is ignored), `upgrade` among the Connection options,
/// and `websocket` among the protocols. Every other Upgrade (h2c above all) is dropped with the
/// hop-by-hop headers and the request goes on as a plain one.
pub fn websocket_upgrade(version: Version, headers: &HeaderMap) -> bool {
    if version != Version::HTTP_11 {
        return false;
    }
    let has = |name: HeaderName, token: &[u8]| {
        headers.get_all(name).iter().any(|v| {
            v.as_bytes().split(|&b| b == b',').any(|t| {
                // A protocol may carry a version (`websocket/13`); only the name matters.
                let t = t.split(|&b| b == b'/').next().unwrap_or(t);
                t.trim_ascii().eq_ignore_ascii_case(token)
            })
        })
    };
    has(header::UPGRADE, b"websocket") && has(header::CONNECTION, b"upgrade")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(line: &str, headers: &[(&str, &str)]) -> Request<()> {
        let (method, target) = line.split_once(' ').unwrap();
        let mut b = Request::builder().method(method).uri(target);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn host_values() {
        for ok in ["club.test", "club.test:8080", "[::1]:80", "10.0.0.1", ""] {
            assert!(host_value_ok(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "user@club.test",
            "club.test/x",
            "a b",
            "club\ttest",
            "é.test",
        ] {
            assert!(!host_value_ok(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn host_count_and_version() {
        let two = req("GET /", &[("host", "a"), ("host", "b")]);
        assert_eq!(check_host(Version::HTTP_11, two.headers()), Err(TWO_HOSTS));
        assert_eq!(check_host(Version::HTTP_10, two.headers()), Err(TWO_HOSTS));
        let none = req("GET /", &[]);
        assert_eq!(check_host(Version::HTTP_11, none.headers()), Err(NO_HOST));
        assert_eq!(check_host(Version::HTTP_10, none.headers()), Ok(()));
    }

    #[test]
    fn target_forms_go_with_their_methods() {
        assert!(check_target(&req("GET http://club.test/x", &[])).is_ok());
        assert!(check_target(&req("OPTIONS *", &[])).is_ok());
        assert_eq!(
            check_target(&req("GET club.test:80", &[]))
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            check_target(&req("CONNECT club.test:443", &[]))
                .unwrap_err()
                .status,
            StatusCode::NOT_IMPLEMENTED
        );
        assert!(check_target(&req("GET http://u@club.test/", &[])).is_err());
        assert!(check_target(&req("GET ftp://club.test/", &[])).is_err());
    }

    #[test]
    fn max_forwards_counts_down() {
        let mut h = HeaderMap::new();
        h.insert(header::MAX_FORWARDS, HeaderValue::from_static("3"));
        assert!(!max_forwards(&mut h));
        assert_eq!(h[header::MAX_FORWARDS], "2");
        h.insert(header::MAX_FORWARDS, HeaderValue::from_static("x"));
        assert!(!max_forwards(&mut h));
        assert_eq!(h[header::MAX_FORWARDS], "x");
        h.insert(header::MAX_FORWARDS, HeaderValue::from_static("0"));
        assert!(max_forwards(&mut h));
    }

    #[test]
    fn only_websocket_upgrades_pass() {
        let h = |c: &str, u: &str| req("GET /", &[("connection", c), ("upgrade", u)]);
        let ws = h("Upgrade", "WebSocket");
        assert!(websocket_upgrade(Version::HTTP_11, ws.headers()));
        assert!(!websocket_upgrade(Version::HTTP_10, ws.headers()));
        let h2c = h("Upgrade, HTTP2-Settings", "h2c");
        assert!(!websocket_upgrade(Version::HTTP_11, h2c.headers()));
        let unasked = h("keep-alive", "websocket");
        assert!(!websocket_upgrade(Version::HTTP_11, unasked.headers()));
    }
}
