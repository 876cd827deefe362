//! The upstream codec on byte strings: response heads and their framing, the chunked decoder fed
//! whole and split at every byte, request heads. Exchanges over real sockets are in tests/it/proxy.rs.

use super::chunked::MAX_CHUNK_LINE;
use super::*;

fn head(bytes: &[u8], method: &Method) -> Result<Option<Head>, ProtocolError> {
    let mut buf = BytesMut::from(bytes);
    parse_response_head(&mut buf, method)
}

fn framing(bytes: &[u8]) -> Framing {
    head(bytes, &Method::GET).unwrap().unwrap().framing
}

#[test]
fn a_response_head_is_parsed_and_taken_out_of_the_buffer() {
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello"[..],
    );
    let h = parse_response_head(&mut buf, &Method::GET)
        .unwrap()
        .unwrap();
    assert_eq!(h.response.status(), StatusCode::CREATED);
    assert_eq!(h.response.version(), Version::HTTP_11);
    assert_eq!(h.framing, Framing::Length(5));
    assert!(h.keep_alive);
    let values: Vec<_> = h.response.headers().get_all("x-a").iter().collect();
    assert_eq!(values, ["1", "2"]);
    assert_eq!(&buf[..], b"hello", "the body stays in the buffer");
}

#[test]
fn hop_by_hop_headers_stay_out_of_the_response_except_on_a_101() {
    let wire = b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\n\
        X-Hop: 1\r\nTrailer: X-Sum\r\nUpgrade: h2c\r\nProxy-Authenticate: Basic\r\n\
        Content-Length: 0\r\nX-Kept: 1\r\n\r\n";
    let h = head(wire, &Method::GET).unwrap().unwrap();
    let mut names: Vec<_> = h.response.headers().keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["content-length", "x-kept"]);
    assert!(h.keep_alive);
    let wire =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    let h = head(wire, &Method::GET).unwrap().unwrap();
    assert_eq!(h.response.headers()["upgrade"], "websocket");
    assert_eq!(h.response.headers()["connection"], "Upgrade");
}

#[test]
fn an_incomplete_head_asks_for_more_and_a_huge_one_is_refused() {
    assert!(
        head(b"HTTP/1.1 200 OK\r\nContent-Le", &Method::GET)
            .unwrap()
            .is_none()
    );
    let mut big = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
    big.resize(MAX_HEAD + 1, b'a');
    assert!(matches!(
        head(&big, &Method::GET),
        Err(ProtocolError::HeadTooLarge)
    ));
    assert!(matches!(
        head(b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", &Method::GET),
        Err(ProtocolError::Head(_))
    ));
}

#[test]
fn framing_follows_rfc_9112() {
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Framing::Chunked
    );
    // Chunked wins over Content-Length, which is dropped.
    let h = head(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        &Method::GET,
    )
    .unwrap()
    .unwrap();
    assert_eq!(h.framing, Framing::Chunked);
    assert!(!h.response.headers().contains_key(header::CONTENT_LENGTH));
    assert!(
        !h.keep_alive,
        "a head with both framings is not trusted with another response"
    );
    // Any transfer coding but a single chunked is refused: it would reach the visitor undecoded.
    for te in [
        "chunked, gzip",
        "gzip, chunked",
        "gzip",
        "chunked, chunked",
        "",
    ] {
        let raw = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: {te}\r\n\r\n");
        assert!(
            matches!(
                head(raw.as_bytes(), &Method::GET),
                Err(ProtocolError::TransferCoding)
            ),
            "{te:?}"
        );
    }
    // Codings spread over two lines count together.
    assert!(matches!(
        head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            &Method::GET
        ),
        Err(ProtocolError::TransferCoding)
    ));
    // A 204 or a HEAD answer has no body to decode: the header is only dropped.
    assert_eq!(
        framing(b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: gzip\r\n\r\n"),
        Framing::None
    );
    assert_eq!(framing(b"HTTP/1.1 200 OK\r\n\r\n"), Framing::UntilClose);
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n"),
        Framing::Length(7)
    );
    assert_eq!(
        framing(b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"),
        Framing::None
    );
    assert_eq!(
        framing(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"),
        Framing::None
    );
    let h = head(
        b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n",
        &Method::HEAD,
    )
    .unwrap()
    .unwrap();
    assert_eq!(h.framing, Framing::None, "a HEAD response has no body");
    for bad in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 7, 8\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    ] {
        assert!(
            matches!(head(bad, &Method::GET), Err(ProtocolError::ContentLength)),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn keep_alive_follows_version_and_connection_header() {
    let ka = |b: &[u8]| head(b, &Method::GET).unwrap().unwrap().keep_alive;
    assert!(ka(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    assert!(!ka(
        b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(!ka(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
    assert!(ka(
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
    ));
}

/// Decodes `wire` fed in pieces of `step` bytes; returns the data, the trailers, and what is left.
fn decode_in_steps(
    wire: &[u8],
    step: usize,
) -> Result<(Vec<u8>, HeaderMap, Vec<u8>), ProtocolError> {
    let mut decoder = ChunkedDecoder::default();
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut fed = 0;
    loop {
        match decoder.decode(&mut buf)? {
            Some(Chunk::Data(d)) => data.extend_from_slice(&d),
            Some(Chunk::End(trailers)) => {
                let mut rest = buf.to_vec();
                rest.extend_from_slice(&wire[fed..]);
                return Ok((data, trailers, rest));
            }
            None => {
                assert!(fed < wire.len(), "decoder wants more than the wire has");
                let end = (fed + step).min(wire.len());
                buf.extend_from_slice(&wire[fed..end]);
                fed = end;
            }
        }
    }
}

#[test]
fn chunked_bodies_decode_whole_and_split_at_every_byte() {
    let wire = b"5\r\nhello\r\n1;name=value\r\n \r\nA \r\n0123456789\r\n0\r\nX-Sum: 42\r\n\r\nNEXT";
    for step in 1..=wire.len() {
        let (data, trailers, rest) = decode_in_steps(wire, step).unwrap();
        assert_eq!(data, b"hello 0123456789", "step {step}");
        assert_eq!(trailers.get("x-sum").unwrap(), "42");
        assert_eq!(rest, b"NEXT", "bytes after the body are left alone");
    }
    let (data, trailers, _) = decode_in_steps(b"0\r\n\r\n", 1).unwrap();
    assert!(data.is_empty() && trailers.is_empty());
}

#[test]
fn malformed_chunked_bodies_are_errors() {
    for bad in [
        &b"5\nhello\r\n0\r\n\r\n"[..], // bare LF after the size
        b"5\r\nhelloXX0\r\n\r\n",      // no CRLF after the data
        b"g\r\n",                      // not hex
        b"\r\n",                       // no size
        b"-5\r\n",                     // sign
        b"11111111111111111\r\n",      // more than 64 bits
        b"5 x\r\nhello\r\n0\r\n\r\n",  // junk after the size
        b"0\r\nno colon\r\n\r\n",      // bad trailer
    ] {
        let r = decode_in_steps(bad, bad.len());
        assert!(
            r.is_err(),
            "{:?} decoded as {r:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // A size line that never ends is refused once it passes the limit.
    let endless = vec![b'1'; MAX_CHUNK_LINE + 10];
    let mut buf = BytesMut::from(&endless[..]);
    assert!(ChunkedDecoder::default().decode(&mut buf).is_err());
}

#[test]
fn the_request_target_loses_the_prefix_and_keeps_the_query() {
    let uri: hyper::Uri = "/slack/api/x?y=1&z".parse().unwrap();
    assert_eq!(
        request_target(&uri, "/slack".len()),
        ("/api/x", Some("y=1&z"))
    );
    assert_eq!(request_target(&uri, 0), ("/slack/api/x", Some("y=1&z")));
    let uri: hyper::Uri = "http://club.example/blog/".parse().unwrap();
    assert_eq!(request_target(&uri, "/blog".len()), ("/", None));
    let uri: hyper::Uri = "*".parse().unwrap();
    assert_eq!(request_target(&uri, 0), ("*", None));
}

#[test]
fn request_heads_carry_the_framing_the_body_needs() {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_static("club.example"));
    let encode = |method: Method, framing| {
        let mut out = Vec::new();
        let extra = HeaderValue::from_static("10.0.0.1");
        let lines = [("x-real-ip", &extra)];
        encode_request_head(
            &method,
            ("/a", Some("b=1")),
            &headers,
            lines.into_iter(),
            framing,
            &mut out,
        );
        String::from_utf8(out).unwrap()
    };
    assert_eq!(
        encode(Method::GET, RequestFraming::Empty),
        "GET /a?b=1 HTTP/1.1\r\nhost: club.example\r\nx-real-ip: 10.0.0.1\r\n\r\n"
    );
    assert_eq!(
        encode(Method::POST, RequestFraming::Empty),
        "POST /a?b=1 HTTP/1.1\r\nhost: club.example\r\nx-real-ip: 10.0.0.1\r\ncontent-length: 0\r\n\r\n"
    );
    assert_eq!(
        encode(Method::POST, RequestFraming::Chunked),
        "POST /a?b=1 HTTP/1.1\r\nhost: club.example\r\nx-real-ip: 10.0.0.1\r\ntransfer-encoding: chunked\r\n\r\n"
    );
}
