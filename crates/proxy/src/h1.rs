//! The proxy's HTTP/1.1 client side, on one upstream connection: writes a request head, reads and
//! checks a response head, and decodes the response body (Content-Length, chunked, or until close)
//! into frames, giving the connection back to the pool the moment the body ends.
//!
//! Why our own and not hyper's client: hyper's client runs each connection in its own task behind
//! a channel and builds its response head generically; bench/callgrind.sh put the upstream half at
//! ≈ 15,000 instructions per proxied request, about 40 % of the total. Here the visitor's task
//! drives its upstream connection directly. The visitor side stays on hyper's server.
//!
//! Strictness is on purpose: a response whose framing is in doubt (bad chunk line, differing
//! Content-Length values, bytes after the end) is never followed by another response on the same
//! connection, so one project's answer can never end up in another visitor's response.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode, Version};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// A response head larger than this is refused (502): nginx's default is 4–8 KiB.
pub const MAX_HEAD: usize = 64 * 1024;
/// At most this many response headers.
const MAX_HEADERS: usize = 128;
/// Bytes asked of the kernel per read on an upstream connection.
const READ_CHUNK: usize = 16 * 1024;

/// One upstream connection: the socket and what has been read from it but not yet used.
pub struct Conn {
    pub stream: TcpStream,
    /// Read buffer, kept across responses so a keep-alive connection reuses its allocation.
    pub buf: BytesMut,
    /// The response-header timer, kept across requests and re-armed lazily (see
    /// [`Conn::poll_deadline`]): registering a fresh timer per request was a measurable share of
    /// the proxy's work.
    timer: Option<Pin<Box<Sleep>>>,
    /// Bytes asked of the kernel per read when the buffer runs low: large for upstreams (bodies),
    /// small for visitors (only heads are read there, and every idle keep-alive client keeps its
    /// buffer).
    read_size: usize,
}

impl Conn {
    /// An upstream connection.
    pub fn new(stream: TcpStream) -> Conn {
        Conn::with_read_size(stream, READ_CHUNK)
    }

    pub fn with_read_size(stream: TcpStream, read_size: usize) -> Conn {
        Conn {
            stream,
            buf: BytesMut::new(),
            timer: None,
            read_size,
        }
    }

    /// Ready once `deadline` has passed. The timer may fire early (it is only moved when it would
    /// otherwise fire late), and then it is checked against `deadline` and moved to it; so a busy
    /// connection re-registers its timer about once per timeout period, not once per request.
    pub fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() > deadline {
            timer.as_mut().reset(deadline);
        }
        loop {
            ready!(timer.as_mut().poll(cx));
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            timer.as_mut().reset(deadline);
        }
    }

    /// Reads what the socket has into `buf`; `Ok(0)` is the end of the stream.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(self.read_size);
        }
        let spare: &mut [MaybeUninit<u8>] = self.buf.spare_capacity_mut();
        let mut read = ReadBuf::uninit(spare);
        ready!(Pin::new(&mut self.stream).poll_read(cx, &mut read))?;
        let n = read.filled().len();
        // SAFETY: `poll_read` initialised the first `n` bytes of the spare capacity.
        unsafe { self.buf.set_len(self.buf.len() + n) };
        Poll::Ready(Ok(n))
    }

    /// An idle pooled connection is usable only if nothing is readable on it: an upstream that
    /// closed it (keep-alive timeout) or sent stray bytes makes it readable. Usually no system
    /// call: the runtime's readiness says so (a read that drained the socket cleared it); only
    /// when that readiness may be stale does a one-byte non-blocking read settle it.
    pub fn looks_idle(&self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }
}

/// Whoever keeps idle connections (the pool in `upstream`). The codec hands a finished body's
/// connection back through this trait so it never depends on the pool's module: `upstream` uses
/// `h1`, never the other way round.
pub trait Pool: Send + Sync {
    /// Takes back a connection whose last response ended cleanly, for reuse with `addr`.
    fn checkin(self: Arc<Self>, addr: SocketAddr, conn: Conn);
}

/// Where a finished response body's connection goes: its upstream's idle list. Weak, so a body
/// outliving the proxy does not keep the pool alive.
pub struct Home {
    pool: Weak<dyn Pool>,
    addr: SocketAddr,
}

impl Home {
    pub fn new(pool: Weak<dyn Pool>, addr: SocketAddr) -> Home {
        Home { pool, addr }
    }

    fn checkin(self, conn: Conn) {
        if let Some(pool) = self.pool.upgrade() {
            pool.checkin(self.addr, conn);
        }
    }
}

/// How the request body goes upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFraming {
    /// No body.
    Empty,
    /// The client's Content-Length is forwarded and the bytes follow as they are.
    Length,
    /// Re-framed as chunked (the client sent chunked, which hyper decoded).
    Chunked,
}

/// The upstream request target for `uri` with its first `strip` bytes of path (a route's
/// prefix) removed, as path and query: `/slack/api?x=1` with `/slack` stripped is `/api`, `x=1`.
/// A route with a prefix only matches `<prefix>/…`, so the rest starts with `/`; without a
/// prefix the path is the client's (`*` for `OPTIONS *`).
pub fn request_target(uri: &hyper::Uri, strip: usize) -> (&str, Option<&str>) {
    let path = uri.path().get(strip..).unwrap_or("/");
    (if path.is_empty() { "/" } else { path }, uri.query())
}

/// Writes `<method> <path>[?<query>] HTTP/1.1`, the headers, the `extra` header lines, and the
/// framing header `framing` needs into `out`. Header names go out as `http` stores them
/// (lowercase), like hyper's client.
pub fn encode_request_head<'a>(
    method: &Method,
    (path, query): (&str, Option<&str>),
    headers: &HeaderMap,
    extra: impl Iterator<Item = (&'static str, &'a HeaderValue)>,
    framing: RequestFraming,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    if let Some(query) = query {
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut line = |name: &str, value: &HeaderValue| {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    for (name, value) in headers {
        line(name.as_str(), value);
    }
    for (name, value) in extra {
        line(name, value);
    }
    match framing {
        RequestFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        // Some servers want a length on a body-less POST (411 otherwise).
        RequestFraming::Empty
            if matches!(*method, Method::POST | Method::PUT | Method::PATCH)
                && !headers.contains_key(header::CONTENT_LENGTH) =>
        {
            out.extend_from_slice(b"content-length: 0\r\n")
        }
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
}

/// Why an upstream's response could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("malformed response head: {0}")]
    Head(httparse::Error),
    #[error("response head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("invalid response header {0:?}")]
    Header(String),
    #[error("conflicting or invalid Content-Length")]
    ContentLength,
    #[error("a transfer coding other than chunked")]
    TransferCoding,
    #[error("malformed chunked body")]
    Chunk,
    #[error("connection closed before the response ended")]
    Truncated,
}

impl From<ProtocolError> for io::Error {
    fn from(e: ProtocolError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// HEAD, 204, 304: no body whatever the headers say.
    None,
    Length(u64),
    Chunked,
    /// No length: the body ends when the upstream closes (never reused).
    UntilClose,
}

/// A parsed response head.
pub struct Head {
    pub response: Response<()>,
    pub framing: Framing,
    /// The upstream allows another request on this connection after this response.
    pub keep_alive: bool,
}

/// Parses a response head at the start of `buf`. `Ok(None)`: incomplete, read more. On success
/// the head's bytes are taken out of `buf` (header values share them, no copy per header).
///
/// One pass over the raw headers settles the framing (RFC 9112 §6.3) and keep-alive, and leaves
/// the hop-by-hop headers (RFC 9110 §7.6.1, and any the Connection header names) out of the
/// response, so the proxy need not hash its way through them again. A `101 Switching Protocols`
/// keeps them all: its Upgrade and Connection headers go to the visitor.
pub fn parse_response_head(
    buf: &mut BytesMut,
    method: &Method,
) -> Result<Option<Head>, ProtocolError> {
    let mut slots = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut parsed,
        buf,
        &mut slots,
    ) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(ProtocolError::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ProtocolError::Head(e)),
    };
    let status = StatusCode::from_u16(parsed.code.unwrap_or(0))
        .map_err(|_| ProtocolError::Header("status".into()))?;
    let version = if parsed.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let keep_hop_by_hop = status == StatusCode::SWITCHING_PROTOCOLS;
    let mut scan = Scan::default();
    // Offsets of the headers to keep, so their values can share the head's bytes once it is
    // split off the buffer.
    let base = buf.as_ptr() as usize;
    let mut kept = Vec::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let hop = scan.note(h.name.as_bytes(), h.value)?;
        if !hop || keep_hop_by_hop {
            let name = h.name.as_ptr() as usize - base;
            let value = h.value.as_ptr() as usize - base;
            kept.push((name, name + h.name.len(), value, value + h.value.len()));
        }
    }
    let head = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(kept.len());
    for (n0, n1, v0, v1) in kept {
        let bad = || ProtocolError::Header(String::from_utf8_lossy(&head[n0..n1]).into_owned());
        let name = HeaderName::from_bytes(&head[n0..n1]).map_err(|_| bad())?;
        // SAFETY: httparse accepted these bytes as a field value (HTAB, SP, VCHAR, obs-text;
        // never CR, LF or other controls), which is exactly what a `HeaderValue` may hold.
        let value = unsafe { HeaderValue::from_maybe_shared_unchecked(head.slice(v0..v1)) };
        headers.append(name, value);
    }
    if !keep_hop_by_hop {
        for name in &scan.named {
            headers.remove(name);
        }
    }
    let no_body = *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    // Only chunked is decoded, and the visitor's side is framed afresh: any other transfer coding
    // (`gzip, chunked`, a bare `gzip`, chunked twice) would reach the visitor undecoded and
    // unannounced, so such a response is refused (502).
    if !no_body && scan.te_seen && (scan.te_chunked != 1 || scan.te_other) {
        return Err(ProtocolError::TransferCoding);
    }
    let framing = match (no_body, scan.te_seen, scan.length) {
        (true, _, _) => Framing::None,
        (false, true, _) => Framing::Chunked,
        (false, false, None) => Framing::UntilClose,
        (false, false, Some(n)) => Framing::Length(n),
    };
    // Both framings in one head: Transfer-Encoding wins, the stale length must not reach the
    // visitor (whose side is framed afresh), and the connection is not trusted again.
    let both = !no_body && scan.te_seen && scan.length.is_some();
    if both {
        headers.remove(header::CONTENT_LENGTH);
    }
    // HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 only with `keep-alive`.
    let keeps = match version {
        Version::HTTP_10 => scan.keep_alive_token,
        _ => !scan.close,
    };
    let keep_alive = keeps && !both && framing != Framing::UntilClose;
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    Ok(Some(Head {
        response,
        framing,
        keep_alive,
    }))
}

/// What one pass over a response's raw headers learns about its framing.
#[derive(Default)]
struct Scan {
    /// Content-Length, once every value has agreed.
    length: Option<u64>,
    /// A Transfer-Encoding line was seen; how many `chunked` codings all of them name, and
    /// whether any names another coding (or none).
    te_seen: bool,
    te_chunked: u8,
    te_other: bool,
    /// Connection tokens.
    close: bool,
    keep_alive_token: bool,
    /// Other headers the Connection header names as hop-by-hop.
    named: Vec<HeaderName>,
}

impl Scan {
    /// Notes one header; true when it is hop-by-hop (not forwarded).
    fn note(&mut self, name: &[u8], value: &[u8]) -> Result<bool, ProtocolError> {
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        match name.len() {
            14 if is("content-length") => {
                for part in value.split(|b| *b == b',') {
                    let n = parse_decimal(part.trim_ascii()).ok_or(ProtocolError::ContentLength)?;
                    if self.length.is_some_and(|l| l != n) {
                        return Err(ProtocolError::ContentLength);
                    }
                    self.length = Some(n);
                }
                Ok(false)
            }
            17 if is("transfer-encoding") => {
                self.te_seen = true;
                let mut any = false;
                for t in tokens(value) {
                    any = true;
                    if t.eq_ignore_ascii_case(b"chunked") {
                        self.te_chunked = self.te_chunked.saturating_add(1);
                    } else {
                        self.te_other = true;
                    }
                }
                self.te_other |= !any;
                Ok(true)
            }
            10 if is("connection") => {
                for t in tokens(value) {
                    if t.eq_ignore_ascii_case(b"close") {
                        self.close = true;
                    } else if t.eq_ignore_ascii_case(b"keep-alive") {
                        self.keep_alive_token = true;
                    } else if let Ok(named) = HeaderName::from_bytes(t) {
                        self.named.push(named);
                    }
                }
                Ok(true)
            }
            2 | 7 | 10 | 16 | 18 | 19 => Ok(is("te")
                || is("trailer")
                || is("upgrade")
                || is("keep-alive")
                || is("proxy-connection")
                || is("proxy-authenticate")
                || is("proxy-authorization")),
            _ => Ok(false),
        }
    }
}

/// The non-empty comma-separated tokens of a header value, trimmed.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|b| *b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[derive(Debug)]
enum Decoding {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
    /// Ended; the connection has gone back to the pool or been closed.
    Done,
}

/// An upstream response body: frames straight off the upstream socket, with backpressure (the
/// socket is read only when hyper asks for the next frame). When the body ends on a keep-alive
/// connection with nothing left over, the connection goes back to the pool at once; a body
/// dropped early (the visitor left) closes it.
pub struct ResponseBody {
    conn: Option<Conn>,
    decoding: Decoding,
    keep_alive: bool,
    /// Where the connection goes when the body ends (`None` once it has gone, or for a tunnel).
    home: Option<Home>,
}

impl ResponseBody {
    /// The body of `head` on `conn`; `home` takes the connection back when it ends. After a
    /// `101 Switching Protocols` the connection is kept for [`ResponseBody::take_tunnel`].
    pub fn new(conn: Conn, head: &Head, home: Home) -> ResponseBody {
        if head.response.status() == StatusCode::SWITCHING_PROTOCOLS {
            return ResponseBody {
                conn: Some(conn),
                decoding: Decoding::Done,
                keep_alive: false,
                home: None,
            };
        }
        let decoding = match head.framing {
            Framing::None | Framing::Length(0) => Decoding::Length(0),
            Framing::Length(n) => Decoding::Length(n),
            Framing::Chunked => Decoding::Chunked(ChunkedDecoder::default()),
            Framing::UntilClose => Decoding::UntilClose,
        };
        let mut body = ResponseBody {
            conn: Some(conn),
            decoding,
            keep_alive: head.keep_alive,
            home: Some(home),
        };
        if matches!(body.decoding, Decoding::Length(0)) {
            body.finish();
        }
        body
    }

    /// The connection itself, for a `101 Switching Protocols` tunnel: the socket and any bytes
    /// the upstream already sent past the head. Never pooled again.
    pub fn take_tunnel(&mut self) -> Option<Conn> {
        self.home = None;
        self.conn.take()
    }

    /// The body is complete: the connection goes home if it can carry another request.
    fn finish(&mut self) {
        self.decoding = Decoding::Done;
        if let (Some(conn), Some(home)) = (self.conn.take(), self.home.take())
            && self.keep_alive
            && conn.buf.is_empty()
        {
            home.checkin(conn);
        }
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut self.decoding {
                Decoding::Done => return Poll::Ready(None),
                Decoding::Length(left) => {
                    if conn.buf.is_empty() && ready!(conn.poll_fill(cx))? == 0 {
                        return Poll::Ready(Some(Err(ProtocolError::Truncated.into())));
                    }
                    let take = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(conn.buf.len());
                    let data = conn.buf.split_to(take).freeze();
                    *left -= take as u64;
                    if *left == 0 {
                        self.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Decoding::UntilClose => {
                    if conn.buf.is_empty() && ready!(conn.poll_fill(cx))? == 0 {
                        self.keep_alive = false;
                        self.finish();
                        return Poll::Ready(None);
                    }
                    let data = conn.buf.split().freeze();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Decoding::Chunked(decoder) => match decoder.decode(&mut conn.buf)? {
                    Some(Chunk::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Some(Chunk::End(trailers)) => {
                        self.finish();
                        if trailers.is_empty() {
                            return Poll::Ready(None);
                        }
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                    None => {
                        if ready!(conn.poll_fill(cx))? == 0 {
                            return Poll::Ready(Some(Err(ProtocolError::Truncated.into())));
                        }
                    }
                },
            }
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let this = self.get_mut();
        let frame = this.poll_next(cx);
        if let Poll::Ready(Some(Err(_))) = frame {
            // A broken body means a broken connection: never pooled.
            this.keep_alive = false;
            this.conn = None;
            this.decoding = Decoding::Done;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.decoding, Decoding::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoding {
            Decoding::Length(n) => SizeHint::with_exact(n),
            Decoding::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

mod chunked;
pub use chunked::{Chunk, ChunkedDecoder};

#[cfg(test)]
mod tests;
