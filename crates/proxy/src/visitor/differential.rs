//! The differential check issue 21 asks for: on seeded, mutated request streams, clubhost's own
//! head parser ([`parse_request`]) and hyper's server must agree on where every request the
//! former takes ends. Whatever the visitor side takes, hyper, given the same bytes, must see the
//! same request (method and target) with no body, and the same next request after it. When the
//! visitor side refuses a head or hands it over, the two need not agree further: hyper then reads
//! those bytes itself, so only one parser ever decides.
//!
//! Bounded and replayable: a fixed seed, a fixed number of cases, each hyper connection on an
//! in-memory pipe with a timeout.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;

use super::*;

/// What a parser made of one request: method, target, body length.
type Seen = (String, String, usize);

/// The requests hyper's server reads from `bytes`, in order: once it has read `want` of them, or
/// after a second. (The write side stays open: hyper drops pipelined requests it has not begun
/// once its input ends.)
async fn hyper_reads(bytes: &[u8], want: usize) -> Vec<Seen> {
    let (mut client, server) = tokio::io::duplex(256 * 1024);
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let record = seen.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let record = record.clone();
        async move {
            let method = req.method().to_string();
            let target = req.uri().to_string();
            let body = req.into_body().collect().await.map(|b| b.to_bytes().len());
            record
                .lock()
                .unwrap()
                .push((method, target, body.unwrap_or(usize::MAX)));
            Ok::<_, Infallible>(Response::new(http_body_util::Empty::<Bytes>::new()))
        }
    });
    let conn = tokio::spawn(
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(server), service),
    );
    client.write_all(bytes).await.unwrap();
    let drain = tokio::spawn(async move {
        let mut sink = [0u8; 4096];
        while matches!(client.read(&mut sink).await, Ok(1..)) {}
    });
    for _ in 0..1000 {
        if seen.lock().unwrap().len() >= want || conn.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    conn.abort();
    drain.abort();
    seen.lock().unwrap().clone()
}

/// The requests the visitor side takes from `bytes` before it stops (refuses, hands over, runs
/// out, or a request does not keep the connection, as `serve` does).
fn visitor_takes(bytes: &[u8]) -> Vec<Seen> {
    let mut buf = BytesMut::from(bytes);
    let mut taken = Vec::new();
    while let Parsed::Request(req, keep_alive) = parse_request(&mut buf, 64 * 1024) {
        taken.push((req.method().to_string(), req.uri().to_string(), 0));
        if !keep_alive {
            break;
        }
    }
    taken
}

#[tokio::test]
async fn the_visitor_parser_and_hyper_agree_on_where_requests_end() {
    const SEEDS: &[&[u8]] = &[
        b"GET /a?b=1 HTTP/1.1\r\nHost: club.test\r\nConnection: keep-alive\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: club.test\r\nContent-Length: 0\r\n\r\n",
        b"HEAD /h HTTP/1.0\r\nHost: club.test\r\n\r\n",
        b"POST /p HTTP/1.1\r\nHost: club.test\r\nContent-Length: 5\r\n\r\nhello",
        b"POST /c HTTP/1.1\r\nHost: club.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"GET /reset HTTP/1.1\r\nHost: club.test\r\nHost: evil.test\r\n\r\n",
        b"GET /h2c HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n",
        b"GET http://other.host/x HTTP/1.1\r\nHost: club.test\r\n\r\n",
    ];
    // The request that follows each mutated one: both parsers must find it in the same place.
    const NEXT: &[u8] = b"GET /next HTTP/1.1\r\nHost: club.test\r\n\r\n";
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut compared, mut taken_total) = (0, 0);
    for case in 0..3_000 {
        let mut input = SEEDS[(next() % SEEDS.len() as u64) as usize].to_vec();
        for _ in 0..next() % 4 {
            let at = (next() as usize) % input.len();
            match next() % 4 {
                0 => input[at] = next() as u8,
                1 => input.insert(at, b"\r\n: \t0-;,"[(next() % 9) as usize]),
                2 if input.len() > 1 => {
                    input.remove(at);
                }
                _ => input.insert(at, b' '),
            }
        }
        input.extend_from_slice(NEXT);
        let ours = visitor_takes(&input);
        if ours.is_empty() {
            continue;
        }
        let theirs = hyper_reads(&input, ours.len()).await;
        compared += 1;
        taken_total += ours.len();
        assert!(
            theirs.len() >= ours.len() && theirs[..ours.len()] == ours[..],
            "case {case}: the visitor side took {ours:?}, hyper read {theirs:?} from {:?}",
            String::from_utf8_lossy(&input)
        );
    }
    // The run must have compared something, or it proves nothing.
    assert!(compared > 400, "only {compared} streams compared");
    assert!(
        taken_total > compared,
        "the request after the mutated one was never reached"
    );
}
