//! The three rules issue 21 found broken, over real sockets: two Host lines (RFC 9112 §3.2),
//! `Upgrade: h2c` (h2c smuggling), and absolute-form targets (RFC 9112 §3.2.2). Each test checks
//! what the client gets and the exact bytes the project's upstream receives (or that it receives
//! nothing).

mod support;

use support::*;

#[tokio::test]
async fn two_host_lines_are_refused_by_both_parsers_and_nothing_is_forwarded() {
    let up = Recorder::start(Reply::ok("project")).await;
    let proxy = start_proxy(vec![route("", "Root", up.addr)], settings()).await;
    // Bodyless: clubhost's own parser (`visitor`) reads this head.
    let seen = send(
        proxy,
        b"GET /reset HTTP/1.1\r\nHost: club.test\r\nHost: evil.test\r\n\r\n",
    )
    .await;
    assert_eq!(seen.status, 400, "{}", seen.raw);
    assert!(seen.closed, "a refused head ends the connection");
    // With a body: handed to hyper's parser, which accepts two Hosts; the handler refuses.
    let seen = send(
        proxy,
        b"POST /reset HTTP/1.1\r\nHost: club.test\r\nHost: evil.test\r\nContent-Length: 2\r\n\r\nhi",
    )
    .await;
    assert_eq!(seen.status, 400, "{}", seen.raw);
    assert!(seen.closed);
    // Also when the two are equal, and case does not matter for the name.
    let seen = send(
        proxy,
        b"GET / HTTP/1.1\r\nHost: club.test\r\nhOST: club.test\r\n\r\n",
    )
    .await;
    assert_eq!(seen.status, 400, "{}", seen.raw);
    settle().await;
    assert_eq!(up.connections(), Vec::<Vec<u8>>::new(), "nothing forwarded");

    // The same upstream does get a well-formed request, so the silence above means something.
    let seen = send(proxy, b"GET /reset HTTP/1.1\r\nHost: club.test\r\n\r\n").await;
    assert_eq!(seen.status, 200, "{}", seen.raw);
    assert_eq!(
        up.received(),
        forwarded("GET /reset HTTP/1.1", &[("host", "club.test")], "club.test")
    );
}

const H2C: &[u8] =
    b"GET /feed HTTP/1.1\r\nHost: club.test\r\nConnection: Upgrade, HTTP2-Settings\r\n\
    Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n";

#[tokio::test]
async fn an_h2c_upgrade_is_forwarded_as_a_plain_request() {
    let up = Recorder::start(Reply::ok("plain")).await;
    let proxy = start_proxy(vec![route("", "Root", up.addr)], settings()).await;
    let seen = send(proxy, H2C).await;
    assert_eq!(seen.status, 200, "{}", seen.raw);
    assert_eq!(seen.body, b"plain");
    assert!(!seen.closed, "an ordinary keep-alive exchange");
    // No Upgrade, no Connection, no HTTP2-Settings: the project sees no upgrade offer.
    assert_eq!(
        up.received(),
        forwarded("GET /feed HTTP/1.1", &[("host", "club.test")], "club.test")
    );
}

#[tokio::test]
async fn a_project_that_switches_to_h2c_anyway_gets_no_tunnel() {
    // A project that answers 101 to any request and then speaks whatever comes: HTTP/2's
    // preface, if the proxy let the visitor through.
    let up = Recorder::start(
        Reply::raw(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
        )
        .echoing(),
    )
    .await;
    let proxy = start_proxy(vec![route("", "Root", up.addr)], settings()).await;
    let mut s = tokio::net::TcpStream::connect(proxy).await.unwrap();
    use tokio::io::AsyncWriteExt;
    s.write_all(H2C).await.unwrap();
    let seen = read_response(&mut s, false).await;
    assert_eq!(seen.status, 502, "{}", seen.raw);
    // The HTTP/2 connection preface a visitor would send next goes nowhere near the project.
    let _ = s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
    settle().await;
    assert_eq!(
        up.received(),
        forwarded("GET /feed HTTP/1.1", &[("host", "club.test")], "club.test")
    );
}

#[tokio::test]
async fn an_absolute_form_target_routes_by_its_authority_which_becomes_the_host() {
    let club = Recorder::start(Reply::ok("club")).await;
    let other = Recorder::start(Reply::ok("other")).await;
    let proxy = start_proxy(
        vec![
            route("", "Club", club.addr),
            host_route("other.host", "Other", other.addr),
        ],
        settings(),
    )
    .await;
    let seen = send(
        proxy,
        b"GET http://other.host/x?y=1 HTTP/1.1\r\nHost: club.test\r\n\r\n",
    )
    .await;
    assert_eq!(seen.status, 200, "{}", seen.raw);
    assert_eq!(seen.body, b"other");
    // Origin-form upstream, the authority as Host (and as X-Forwarded-Host).
    assert_eq!(
        other.received(),
        forwarded(
            "GET /x?y=1 HTTP/1.1",
            &[("host", "other.host")],
            "other.host"
        )
    );
    // The other way round: a Host naming the host route does not pull the request there.
    let seen = send(
        proxy,
        b"GET http://club.test:8080/x HTTP/1.1\r\nHost: other.host\r\n\r\n",
    )
    .await;
    assert_eq!(seen.body, b"club", "{}", seen.raw);
    settle().await;
    assert_eq!(
        club.received(),
        forwarded(
            "GET /x HTTP/1.1",
            &[("host", "club.test:8080")],
            "club.test:8080"
        )
    );
    assert_eq!(other.connections().len(), 1, "one request reached it");
}
