//! Shared by the proxy crate's socket tests: the real `Proxy` on 127.0.0.1:0 with a route table
//! the test builds, a recording upstream (a raw TCP server on 127.0.0.1 that keeps the exact bytes
//! each of its connections received and answers with canned bytes, however wrong), and a raw
//! client that sends bytes and reads one response the way a strict HTTP/1.1 client would.
//!
//! Every wait is bounded: a test that goes wrong fails within seconds, it never hangs.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use clubhost_proxy::routes::{RouteHandle, RouteSpec, RouteTable, Target};
use clubhost_proxy::{Proxy, Settings};
use http_body_util::Full;
use hyper::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a test waits for any one thing (a response, a close) before calling it missing.
pub const WAIT: Duration = Duration::from_secs(3);
/// How long silence must last to count as "the connection stays open" / "nothing more came".
pub const QUIET: Duration = Duration::from_millis(300);

/// Test settings: no access log noise.
pub fn settings() -> Settings {
    Settings {
        access_log: None,
        ..Settings::default()
    }
}

/// Starts the proxy with these routes; returns its address. It serves until the test's runtime
/// ends. The portal answers every request with `portal`.
pub async fn start_proxy(specs: Vec<RouteSpec>, settings: Settings) -> SocketAddr {
    let routes = RouteHandle::default();
    routes.swap(RouteTable::new(specs));
    let portal = tower::service_fn(|_req: Request<clubhost_proxy::body::RequestBody>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"portal"))))
    });
    let proxy = Arc::new(Proxy::with_settings(routes, portal, settings));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(proxy.serve(listener, std::future::pending()));
    addr
}

/// A path route (empty segment: the root route) to `addr`.
pub fn route(segment: &str, name: &str, addr: SocketAddr) -> RouteSpec {
    RouteSpec::path(segment, name, Target::Upstream(addr))
}

/// A host route: every path on `host` goes to `addr`.
pub fn host_route(host: &str, name: &str, addr: SocketAddr) -> RouteSpec {
    let mut spec = RouteSpec::path("", name, Target::Upstream(addr));
    spec.host = Some(host.into());
    spec
}

/// What a recording upstream does once it has read a request.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Written as they are, right or wrong.
    pub bytes: Vec<u8>,
    /// Close the connection after writing (a body shorter than announced, say).
    pub close: bool,
    /// After writing, echo everything that comes (a tunnel after a 101).
    pub echo: bool,
}

impl Reply {
    pub fn ok(body: &str) -> Reply {
        Reply::raw(format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    pub fn raw(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply {
            bytes: bytes.into(),
            close: false,
            echo: false,
        }
    }

    pub fn closing(mut self) -> Reply {
        self.close = true;
        self
    }

    pub fn echoing(mut self) -> Reply {
        self.echo = true;
        self
    }
}

/// The bytes one upstream connection received, shared with the task serving it.
type Record = Arc<Mutex<Vec<u8>>>;

/// A raw upstream on 127.0.0.1 that records, per connection, every byte it received.
#[derive(Clone)]
pub struct Recorder {
    pub addr: SocketAddr,
    conns: Arc<Mutex<Vec<Record>>>,
}

impl Recorder {
    /// Answers every request on every connection with `reply`.
    pub async fn start(reply: Reply) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<Record>>> = Arc::default();
        let recorder = Recorder {
            addr,
            conns: conns.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let seen = Arc::new(Mutex::new(Vec::new()));
                conns.lock().unwrap().push(seen.clone());
                tokio::spawn(serve_recorded(stream, seen, reply.clone()));
            }
        });
        recorder
    }

    /// The bytes each connection received so far, in accept order.
    pub fn connections(&self) -> Vec<Vec<u8>> {
        let conns = self.conns.lock().unwrap();
        conns.iter().map(|c| c.lock().unwrap().clone()).collect()
    }

    /// Everything received, all connections concatenated, as text.
    pub fn received(&self) -> String {
        String::from_utf8_lossy(&self.connections().concat()).into_owned()
    }
}

async fn serve_recorded(mut stream: TcpStream, seen: Record, reply: Reply) {
    let mut buf = Vec::new();
    loop {
        // One request: its head, then its body by Content-Length or chunked.
        let Some(len) = read_request(&mut stream, &mut buf, &seen).await else {
            return;
        };
        buf.drain(..len);
        if stream.write_all(&reply.bytes).await.is_err() {
            return;
        }
        if reply.echo {
            let mut chunk = [0u8; 1024];
            while let Ok(Ok(n @ 1..)) = tokio::time::timeout(WAIT, stream.read(&mut chunk)).await {
                seen.lock().unwrap().extend_from_slice(&chunk[..n]);
                if stream.write_all(&chunk[..n]).await.is_err() {
                    return;
                }
            }
            return;
        }
        if reply.close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Reads until `buf` holds a whole request; returns its length. Every byte read is recorded.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    seen: &Mutex<Vec<u8>>,
) -> Option<usize> {
    loop {
        if let Some(n) = request_len(buf) {
            return Some(n);
        }
        let mut chunk = [0u8; 4096];
        let n = match tokio::time::timeout(WAIT, stream.read(&mut chunk)).await {
            Ok(Ok(n @ 1..)) => n,
            _ => return None,
        };
        seen.lock().unwrap().extend_from_slice(&chunk[..n]);
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The length of the whole request at the front of `buf`, if it is all there.
fn request_len(buf: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return None,
    };
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
    };
    if header("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        let (len, _) = dechunk(&buf[head..])?;
        return Some(head + len);
    }
    let body: usize = header("content-length").map_or(0, |n| n.trim().parse().unwrap_or(0));
    (buf.len() >= head + body).then_some(head + body)
}

/// Decodes a chunked body at the front of `bytes`: (bytes it took, the data). `None` if it is
/// incomplete or malformed.
pub fn dechunk(bytes: &[u8]) -> Option<(usize, Vec<u8>)> {
    let mut at = 0;
    let mut data = Vec::new();
    loop {
        let line_end = at + bytes[at..].windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&bytes[at..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                let end = at + bytes[at..].windows(2).position(|w| w == b"\r\n")?;
                let blank = end == at;
                at = end + 2;
                if blank {
                    return Some((at, data));
                }
            }
        }
        if bytes.len() < at + size + 2 || &bytes[at + size..at + size + 2] != b"\r\n" {
            return None;
        }
        data.extend_from_slice(&bytes[at..at + size]);
        at += size + 2;
    }
}

/// What the client saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Status of the final response; 0 if none came.
    pub status: u16,
    /// Interim (1xx) statuses before it.
    pub interim: Vec<u16>,
    /// The final response's head, as text.
    pub head: String,
    /// Its body, de-chunked.
    pub body: Vec<u8>,
    /// The body ended where its framing said.
    pub complete: bool,
    /// The proxy closed the connection after the response.
    pub closed: bool,
    /// Everything read, as text (for failure messages).
    pub raw: String,
}

impl Seen {
    /// The final response's header, lowercase name, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `request` over a fresh connection and reads one response (after any 1xx).
pub async fn send(proxy: SocketAddr, request: &[u8]) -> Seen {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    // A refusal may come (and the proxy close) before the whole request is written.
    let _ = s.write_all(request).await;
    let head_request = request.starts_with(b"HEAD ");
    read_response(&mut s, head_request).await
}

/// Reads one final response off `s` (bounded by [`WAIT`]), then whether the proxy closes.
pub async fn read_response(s: &mut TcpStream, head_request: bool) -> Seen {
    let mut seen = Seen::default();
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut eof = false;
    // Reads more into `buf`; false at the end of the stream or the deadline.
    async fn more(s: &mut TcpStream, buf: &mut Vec<u8>, deadline: tokio::time::Instant) -> bool {
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(n @ 1..)) => {
                buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }
    let mut at = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut res = httparse::Response::new(&mut headers);
        match res.parse(&buf[at..]) {
            Ok(httparse::Status::Complete(n)) => {
                let code = res.code.unwrap_or(0);
                let text = String::from_utf8_lossy(&buf[at..at + n]).into_owned();
                at += n;
                if (100..200).contains(&code) && code != 101 {
                    seen.interim.push(code);
                    continue;
                }
                seen.status = code;
                seen.head = text;
                break;
            }
            Ok(httparse::Status::Partial) if more(s, &mut buf, deadline).await => {}
            _ => {
                seen.raw = String::from_utf8_lossy(&buf).into_owned();
                seen.closed = true;
                return seen;
            }
        }
    }
    let length: Option<usize> = seen.header("content-length").and_then(|n| n.parse().ok());
    let chunked = seen
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
    let bodyless = head_request || seen.status == 204 || seen.status == 304 || seen.status == 101;
    if bodyless {
        seen.complete = true;
    } else if chunked {
        loop {
            if let Some((n, data)) = dechunk(&buf[at..]) {
                at += n;
                seen.body = data;
                seen.complete = true;
                break;
            }
            if !more(s, &mut buf, deadline).await {
                eof = true;
                seen.body = buf[at..].to_vec();
                at = buf.len();
                break;
            }
        }
    } else if let Some(n) = length {
        while buf.len() < at + n {
            if !more(s, &mut buf, deadline).await {
                eof = true;
                break;
            }
        }
        let end = buf.len().min(at + n);
        seen.body = buf[at..end].to_vec();
        seen.complete = end == at + n;
        at = end;
    } else {
        // No framing: the body runs until the proxy closes.
        while more(s, &mut buf, deadline).await {}
        seen.body = buf[at..].to_vec();
        seen.complete = true;
        eof = true;
        at = buf.len();
    }
    if !eof && buf.len() == at {
        // Does the connection stay open? Silence for QUIET says yes.
        let mut probe = [0u8; 1];
        seen.closed = !matches!(
            tokio::time::timeout(QUIET, s.read(&mut probe)).await,
            Err(_) | Ok(Ok(1..))
        );
    } else {
        seen.closed = eof;
    }
    seen.raw = String::from_utf8_lossy(&buf).into_owned();
    seen
}

/// The request head the proxy sends upstream for a plain request from 127.0.0.1 with this Host:
/// the client's headers (as given, lowercase), then the X-Forwarded family.
pub fn forwarded(request_line: &str, headers: &[(&str, &str)], host: &str) -> String {
    let mut out = format!("{request_line}\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!(
        "x-forwarded-for: 127.0.0.1\r\nx-real-ip: 127.0.0.1\r\nx-forwarded-proto: http\r\n\
         x-forwarded-host: {host}\r\n\r\n"
    ));
    out
}

/// Waits out [`QUIET`] so anything the proxy was going to send upstream has arrived.
pub async fn settle() {
    tokio::time::sleep(QUIET).await;
}
