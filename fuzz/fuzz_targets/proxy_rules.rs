//! Issue 21's request rules on arbitrary request heads (parsed with httparse, as both visitor
//! parsers do): two Host lines, absolute-form targets and h2c upgrade offers. A head the rules
//! let through must carry exactly one valid Host (none only before HTTP/1.1); an absolute-form
//! target the rules let through must give a valid Host without userinfo, and that Host routes the
//! request; only a WebSocket offer in HTTP/1.1 may pass as an upgrade, and the hop-by-hop strip
//! leaves no Upgrade behind for anything else. None of it may panic.
#![no_main]

use std::net::SocketAddr;

use clubhost_proxy::forwarded::strip_hop_by_hop;
use clubhost_proxy::routes::{Match, RouteSpec, RouteTable, Target};
use clubhost_proxy::rules;
use http::{Request, Version, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Request::new(&mut fields);
    let Ok(httparse::Status::Complete(_)) = head.parse(data) else {
        return;
    };
    let (Some(method), Some(target), Some(minor)) = (head.method, head.path, head.version) else {
        return;
    };
    let version = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(target)
        .version(version);
    for f in head.headers.iter() {
        builder = builder.header(f.name, f.value);
    }
    // What http cannot hold, hyper refuses before the rules run.
    let Ok(mut req) = builder.body(()) else {
        return;
    };
    let host_ok = rules::check_host(req.version(), req.headers()).is_ok();
    if host_ok {
        let hosts: Vec<_> = req.headers().get_all(header::HOST).iter().collect();
        match hosts[..] {
            [] => assert_eq!(req.version(), Version::HTTP_10),
            [host] => assert!(rules::host_value_ok(host.as_bytes())),
            _ => panic!("two Host lines let through"),
        }
    }
    if host_ok && rules::check_target(&req).is_ok() && req.uri().authority().is_some() {
        let host = rules::absolute_host(&req).expect("an absolute-form target gives the Host");
        assert!(rules::host_value_ok(host.as_bytes()) && !host.as_bytes().contains(&b'@'));
        // The proxy forwards the authority as Host and routes by it: the two agree.
        let up = Target::Upstream(SocketAddr::from(([127, 0, 0, 1], 9)));
        let mut other = RouteSpec::path("", "Other", up.clone());
        other.host = Some("other.host".into());
        let table = RouteTable::new([other, RouteSpec::path("", "Club", up)]);
        let name = host.to_str().unwrap_or("");
        let bare = name.rsplit_once(':').map_or(name, |(h, _)| h);
        if let Match::Route { route, .. } = table.lookup_host(Some(name), req.uri().path()) {
            assert_eq!(
                route.name == "Other",
                bare.eq_ignore_ascii_case("other.host"),
                "{name}"
            );
        }
    }
    let websocket = rules::websocket_upgrade(req.version(), req.headers());
    if websocket {
        assert_eq!(req.version(), Version::HTTP_11);
    }
    strip_hop_by_hop(req.headers_mut());
    assert!(
        !req.headers().contains_key(header::UPGRADE),
        "Upgrade survives the strip"
    );
});
