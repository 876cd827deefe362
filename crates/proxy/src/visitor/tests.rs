//! The visitor side's head parsing (what it keeps, what it leaves to hyper) and response writing,
//! on byte buffers. `tests/it/proxy_visitor.rs` drives the same code over real sockets.

use super::*;

fn parse(bytes: &[u8]) -> (Parsed, BytesMut) {
    let mut buf = BytesMut::from(bytes);
    let parsed = parse_request(&mut buf, 8 * 1024);
    (parsed, buf)
}

fn request(bytes: &[u8]) -> (Request<RequestBody>, bool, BytesMut) {
    match parse(bytes) {
        (Parsed::Request(req, keep_alive), rest) => (req, keep_alive, rest),
        _ => panic!("not taken: {}", String::from_utf8_lossy(bytes)),
    }
}

fn left_for_hyper(bytes: &[u8]) {
    let (parsed, rest) = parse(bytes);
    assert!(
        matches!(parsed, Parsed::ForHyper),
        "taken: {}",
        String::from_utf8_lossy(bytes)
    );
    assert_eq!(&rest[..], bytes, "hyper must get every byte");
}

#[test]
fn a_bodyless_head_is_taken_with_its_headers_and_the_next_head_stays() {
    let (req, keep_alive, rest) = request(
        b"GET /app/a%20b?q=1 HTTP/1.1\r\nHost: club.example\r\nX-Two: 1\r\nx-two: 2\r\n\
          Content-Length: 0\r\n\r\nGET /next HTTP/1.1\r\n",
    );
    assert_eq!(req.method(), Method::GET);
    assert_eq!(req.uri().path(), "/app/a%20b");
    assert_eq!(req.uri().query(), Some("q=1"));
    assert_eq!(req.version(), Version::HTTP_11);
    assert_eq!(req.headers()["host"], "club.example");
    let two: Vec<_> = req.headers().get_all("x-two").iter().collect();
    assert_eq!(two, ["1", "2"]);
    assert!(keep_alive);
    assert_eq!(&rest[..], b"GET /next HTTP/1.1\r\n");
}

#[test]
fn a_partial_head_waits_and_an_oversized_one_goes_to_hyper() {
    assert!(matches!(
        parse(b"GET / HTTP/1.1\r\nHost: x\r\n").0,
        Parsed::Partial
    ));
    let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big.extend(vec![b'a'; 9 * 1024]);
    left_for_hyper(&big);
    big.extend(b"\r\n\r\n");
    left_for_hyper(&big);
}

#[test]
fn bodies_upgrades_expectations_odd_targets_and_bad_heads_go_to_hyper() {
    left_for_hyper(b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
    left_for_hyper(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    // The smuggling shapes: hyper and `framing` answer them.
    left_for_hyper(b"GET / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n");
    left_for_hyper(b"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 1\r\n\r\n");
    left_for_hyper(b"GET / HTTP/1.1\r\ncontent-length: +0\r\n\r\n");
    left_for_hyper(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
    left_for_hyper(b"PUT /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
    left_for_hyper(b"OPTIONS * HTTP/1.1\r\n\r\n");
    left_for_hyper(b"GET http://other.example/ HTTP/1.1\r\n\r\n");
    left_for_hyper(b"CONNECT db:5432 HTTP/1.1\r\n\r\n");
    left_for_hyper(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n");
    left_for_hyper(b"GET / HTTP/2.0\r\n\r\n");
    left_for_hyper(b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n");
}

#[test]
fn a_path_http_cannot_hold_is_a_400() {
    // httparse accepts '<' in a target; `http`'s Uri does not: the head is consumed and answered
    // 400 (the connection then closes), never forwarded.
    let (parsed, rest) = parse(b"GET /a<b HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\n");
    assert!(matches!(parsed, Parsed::Invalid));
    assert_eq!(&rest[..], b"GET /next HTTP/1.1\r\n");
    // httparse refuses DEL itself; either way the visitor gets a 400, never a forwarded request.
    let (parsed, rest) = parse(b"GET /a\x7fb HTTP/1.1\r\n\r\n");
    assert!(
        matches!(parsed, Parsed::ForHyper | Parsed::Invalid),
        "{rest:?}"
    );
}

#[test]
fn host_lines_follow_rfc_9112_section_3_2() {
    // Two Host lines, none in HTTP/1.1, or a value that is no host: 400, never forwarded.
    for bad in [
        &b"GET / HTTP/1.1\r\nHost: club.test\r\nHost: evil.test\r\n\r\n"[..],
        b"GET / HTTP/1.0\r\nHost: club.test\r\nhost: club.test\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: user@club.test\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: club.test/x\r\n\r\n",
    ] {
        let (parsed, _) = parse(bad);
        assert!(
            matches!(parsed, Parsed::Invalid),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    // HTTP/1.0 may leave it out; an empty value is allowed.
    request(b"GET / HTTP/1.0\r\n\r\n");
    request(b"GET / HTTP/1.1\r\nHost:\r\n\r\n");
}

#[test]
fn keep_alive_follows_the_version_and_connection_tokens() {
    let ka = |bytes: &[u8]| request(bytes).1;
    assert!(ka(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n"
    ));
    assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    let (req, ..) = request(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(req.version(), Version::HTTP_10);
}

/// Writes `res` for a request of `version` (HEAD if `head_only`), returns the bytes and whether
/// the connection stays open.
async fn written(res: Response<ProxyBody>, head_only: bool, version: Version) -> (String, bool) {
    let mut wire = Vec::new();
    let mut out = Vec::new();
    let answer = Answer {
        head_only,
        version,
        keep_alive: true,
    };
    let keep = write_response(&mut wire, &mut out, res, answer)
        .await
        .unwrap();
    (String::from_utf8(wire).unwrap(), keep)
}

fn full(text: &'static str) -> ProxyBody {
    ProxyBody::other(http_body_util::Full::new(Bytes::from_static(
        text.as_bytes(),
    )))
}

/// A body of `parts` sent one by one, with no length known in advance.
fn streamed(parts: &'static [&'static str]) -> ProxyBody {
    let frames = parts
        .iter()
        .map(|p| Ok::<_, BoxError>(Frame::data(Bytes::from_static(p.as_bytes()))));
    ProxyBody::other(http_body_util::StreamBody::new(futures_util::stream::iter(
        frames,
    )))
}

#[tokio::test]
async fn a_known_length_is_announced_with_a_date() {
    let res = Response::builder()
        .status(404)
        .header("x-a", "1")
        .body(full("gone"))
        .unwrap();
    let (wire, keep) = written(res, false, Version::HTTP_11).await;
    assert!(
        wire.starts_with("HTTP/1.1 404 Not Found\r\nx-a: 1\r\ncontent-length: 4\r\ndate: "),
        "{wire}"
    );
    assert!(wire.ends_with(" GMT\r\n\r\ngone"), "{wire}");
    assert!(keep);
}

#[tokio::test]
async fn an_unknown_length_is_chunked_for_http11_and_closes_for_http10() {
    let res = Response::new(streamed(&["ab", "", "cde"]));
    let (wire, keep) = written(res, false, Version::HTTP_11).await;
    assert!(wire.contains("transfer-encoding: chunked\r\n"), "{wire}");
    assert!(
        wire.ends_with("\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"),
        "{wire}"
    );
    assert!(keep);

    let res = Response::new(streamed(&["ab", "cde"]));
    let (wire, keep) = written(res, false, Version::HTTP_10).await;
    assert!(
        wire.starts_with("HTTP/1.0 200 OK\r\nconnection: close\r\n"),
        "{wire}"
    );
    assert!(wire.ends_with("\r\n\r\nabcde"), "{wire}");
    assert!(!keep, "the close is the body's end");
}

#[tokio::test]
async fn trailers_end_a_chunked_body() {
    let mut trailers = HeaderMap::new();
    trailers.insert("x-digest", HeaderValue::from_static("abc"));
    let frames = vec![
        Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"hi"))),
        Ok(Frame::trailers(trailers)),
    ];
    let body = ProxyBody::other(http_body_util::StreamBody::new(futures_util::stream::iter(
        frames,
    )));
    let (wire, _) = written(Response::new(body), false, Version::HTTP_11).await;
    assert!(
        wire.ends_with("\r\n\r\n2\r\nhi\r\n0\r\nx-digest: abc\r\n\r\n"),
        "{wire}"
    );
}

#[tokio::test]
async fn head_answers_carry_headers_only() {
    let res = Response::new(full("a page"));
    let (wire, keep) = written(res, true, Version::HTTP_11).await;
    assert!(wire.contains("content-length: 6\r\n"), "{wire}");
    assert!(wire.ends_with("\r\n\r\n"), "{wire}");
    assert!(keep);
    // 304 and 204 have no body whatever they say.
    let res = Response::builder()
        .status(304)
        .header("content-length", "10")
        .body(full(""))
        .unwrap();
    let (wire, _) = written(res, false, Version::HTTP_11).await;
    assert!(
        wire.starts_with("HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n"),
        "{wire}"
    );
    assert!(wire.ends_with("\r\n\r\n"), "{wire}");
}

#[tokio::test]
async fn the_handlers_connection_close_and_a_body_shorter_than_announced_end_the_connection() {
    let res = Response::builder()
        .status(400)
        .header("connection", "close")
        .body(full("bad"))
        .unwrap();
    let (wire, keep) = written(res, false, Version::HTTP_11).await;
    assert!(wire.contains("\r\nconnection: close\r\n"), "{wire}");
    assert_eq!(wire.matches("connection").count(), 1, "{wire}");
    assert!(!keep);

    let res = Response::builder()
        .header("content-length", "10")
        .body(streamed(&["short"]))
        .unwrap();
    let (wire, keep) = written(res, false, Version::HTTP_11).await;
    assert!(wire.ends_with("\r\n\r\nshort"), "{wire}");
    assert!(
        !keep,
        "a short body must not be followed by another response"
    );

    let res = Response::builder()
        .header("content-length", "2")
        .body(streamed(&["toolong"]))
        .unwrap();
    let (wire, keep) = written(res, false, Version::HTTP_11).await;
    assert!(
        wire.ends_with("\r\n\r\n"),
        "the excess is never sent: {wire}"
    );
    assert!(!keep);
}

#[tokio::test]
async fn http10_keep_alive_is_announced() {
    let (wire, keep) = written(Response::new(full("x")), false, Version::HTTP_10).await;
    assert!(wire.contains("\r\nconnection: keep-alive\r\n"), "{wire}");
    assert!(keep);
}

/// A seeded run over mutated heads (bounded, replayable from the seed): the parser never panics,
/// leaves every byte in place for hyper, and takes a request only with no body-framing header,
/// ending where the head's blank line does, and with the Host lines RFC 9112 §3.2 allows.
#[test]
fn mutated_heads_are_taken_whole_or_left_whole() {
    const SEEDS: &[&[u8]] = &[
        b"GET /app/x?y=1 HTTP/1.1\r\nHost: club.example\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        b"POST /app/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        b"GET / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HEAD /a HTTP/1.0\r\nUpgrade: websocket\r\nExpect: 100-continue\r\n\r\n",
        // Issue 21's rows: two Host lines, an h2c offer, an absolute-form target.
        b"GET /reset HTTP/1.1\r\nHost: club.test\r\nHost: evil.test\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n",
        b"GET http://other.host/x HTTP/1.1\r\nHost: club.test\r\n\r\n",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..5_000 {
        let mut input = SEEDS[(next() % SEEDS.len() as u64) as usize].to_vec();
        for _ in 0..1 + next() % 4 {
            if input.is_empty() {
                break;
            }
            let at = (next() as usize) % input.len();
            match next() % 4 {
                0 => input[at] = next() as u8,
                1 => input.insert(at, b"\r\n: \t0-"[(next() % 7) as usize]),
                2 => {
                    input.remove(at);
                }
                _ => input.truncate(at.max(1)),
            }
        }
        let (parsed, rest) = parse(&input);
        match parsed {
            Parsed::Partial | Parsed::ForHyper => assert_eq!(&rest[..], &input[..]),
            Parsed::Invalid => assert!(input.ends_with(&rest)),
            Parsed::Request(req, _) => {
                let head = &input[..input.len() - rest.len()];
                assert!(input.ends_with(&rest));
                assert!(
                    head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n"),
                    "{head:?}"
                );
                assert!(!req.headers().contains_key(header::TRANSFER_ENCODING));
                assert!(!req.headers().contains_key(header::UPGRADE));
                assert!(!req.headers().contains_key(header::EXPECT));
                for length in req.headers().get_all(header::CONTENT_LENGTH) {
                    assert_eq!(length, "0");
                }
                assert!(req.uri().path().starts_with('/'));
                // RFC 9112 §3.2: one valid Host, or none before HTTP/1.1.
                let hosts: Vec<_> = req.headers().get_all(header::HOST).iter().collect();
                match hosts[..] {
                    [] => assert_eq!(req.version(), Version::HTTP_10, "{input:?}"),
                    [host] => assert!(rules::host_value_ok(host.as_bytes()), "{input:?}"),
                    _ => panic!("two Host lines taken: {input:?}"),
                }
            }
        }
    }
}
