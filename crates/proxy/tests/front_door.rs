//! The club's front door: with no root project, a GET or HEAD of `/` goes to the portal (which
//! shows the club's page) instead of a 404; every other unrouted request is still the proxy's 404,
//! and a root project, once there, takes `/` back.

mod support;

use clubhost_proxy::routes::{RouteSpec, Target};
use support::*;

fn portal() -> RouteSpec {
    RouteSpec::path("portal", "Portal", Target::Portal)
}

#[tokio::test]
async fn without_a_root_project_the_portal_answers_slash_only() {
    let proxy = start_proxy(vec![portal()], settings()).await;
    let home = send(proxy, b"GET / HTTP/1.1\r\nHost: club.test\r\n\r\n").await;
    assert_eq!(home.status, 200, "{}", home.raw);
    assert_eq!(home.body, b"portal");
    let head = send(proxy, b"HEAD / HTTP/1.1\r\nHost: club.test\r\n\r\n").await;
    assert_eq!(head.status, 200, "{}", head.raw);
    for request in [
        &b"GET /nothing HTTP/1.1\r\nHost: club.test\r\n\r\n"[..],
        b"GET /index.html HTTP/1.1\r\nHost: club.test\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: club.test\r\nContent-Length: 0\r\n\r\n",
    ] {
        let r = send(proxy, request).await;
        assert_eq!(r.status, 404, "{}", r.raw);
    }
}

#[tokio::test]
async fn no_portal_route_means_no_front_door_and_a_root_project_takes_slash() {
    let proxy = start_proxy(Vec::new(), settings()).await;
    let r = send(proxy, b"GET / HTTP/1.1\r\nHost: club.test\r\n\r\n").await;
    assert_eq!(r.status, 404, "{}", r.raw);

    let root = Recorder::start(Reply::ok("the root project")).await;
    let proxy = start_proxy(vec![portal(), route("", "Home", root.addr)], settings()).await;
    let r = send(proxy, b"GET / HTTP/1.1\r\nHost: club.test\r\n\r\n").await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body, b"the root project");
}
