//! The proxy's per-request work on arbitrary input: route lookup by host and path, the
//! forwarded-header rewrite of request headers and the Location/Set-Cookie rewrite of response
//! headers. None of it may panic, and a matched route's rest of an origin-form path starts with '/'.
#![no_main]

use std::net::SocketAddr;

use clubhost_proxy::forwarded::{rewrite_response, strip_hop_by_hop};
use clubhost_proxy::routes::{Match, RouteSpec, RouteTable, Target};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (host, path, rest) = (parts.next(), parts.next().unwrap_or("/"), parts.next());
    let up = Target::Upstream(SocketAddr::from(([127, 0, 0, 1], 9)));
    let table = RouteTable::new([
        RouteSpec::path("app", "App", up.clone()),
        RouteSpec::path("", "Home", up),
    ]);
    // Request paths from hyper start with '/' (origin form); only those promise a '/' rest.
    if let Match::Route { rest, .. } = table.lookup_host(host, path)
        && path.starts_with('/')
    {
        assert!(rest.starts_with('/'), "{rest:?}");
    }
    // Arbitrary header lines: "name: value".
    let mut headers = HeaderMap::new();
    for line in rest.unwrap_or("").lines() {
        if let Some((n, v)) = line.split_once(':')
            && let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n.as_bytes()), HeaderValue::from_str(v.trim()))
        {
            headers.append(n, v);
        }
    }
    let mut response = headers.clone();
    strip_hop_by_hop(&mut headers);
    rewrite_response(&mut response, "/app", host);
});
