//! The visitor's side of a client connection: clubhost's own HTTP/1.1 server for the common
//! request, a head with no body, and hyper's server for everything else.
//!
//! Why: once the upstream half was our own (`h1`), hyper's server was most of what clubhost spent
//! per request beyond nginx (bench/callgrind.sh: its parser and header map, a timer allocated and
//! registered for every request, its encoder and buffers). Most of what visitors send is GETs
//! without a body. Those are read here with httparse (the parser hyper uses, with the same
//! settings), handed to the proxy's handler, and the response is written from here.
//!
//! Everything else is left unread: a body (a Content-Length other than 0, any
//! Transfer-Encoding), `Expect`, `Upgrade`, a target that is not a path (`*`, absolute-form,
//! CONNECT), a head httparse refuses or one over the size limit. The connection, from that
//! request's first byte on, goes to hyper's server ([`hyper_serve`]), which answers it as it
//! always has: 400 and 431, `100 Continue`, upgrades, the CL+TE refusal in `framing`. Because
//! this side never reads a body, the two can never disagree about where a request ends: the
//! bytes after a bodyless head are the next head, whoever reads them.
//!
//! The header read timeout (slowloris) is one timer per connection, re-armed lazily
//! ([`Conn::poll_deadline`]); it bounds the wait for each head, including the idle wait between
//! keep-alive requests, as hyper's did.

use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::body::RequestBody;
use super::h1::Conn;
use super::{BoxError, ClientConn, ProxyBody, framing, httpdate, rules};

/// Read buffer per client: a few heads' worth (bodies are hyper's), kept while the client stays.
const READ_SIZE: usize = 4 * 1024;

/// At most this many request headers (hyper's default, so both sides refuse the same heads).
const MAX_HEADERS: usize = 100;

/// The answer to a head that httparse accepted but that breaks a rule (a path with bytes a URI
/// may not hold, no Host or two, see `rules`): like hyper's, a bare 400 and the connection
/// closed.
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// Serves one client connection until it closes, times out, or the proxy shuts down (`closing`
/// turns true: a request in flight is answered with `Connection: close`, an idle connection is
/// closed at once).
pub(super) async fn serve(
    stream: TcpStream,
    client: Arc<ClientConn>,
    closing: watch::Receiver<bool>,
) {
    let settings = &client.proxy.settings;
    let mut conn = Conn::with_read_size(stream, READ_SIZE);
    // The response head is built here; kept across requests for its allocation.
    let mut out = Vec::with_capacity(512);
    // One receiver is waited on between requests (a future kept for the connection's life, so
    // waiting registers nothing new per request); the other is asked during a request.
    let closing_asked = closing.clone();
    let mut closing_waited = closing;
    let shutdown = closing_waited.wait_for(|c| *c);
    tokio::pin!(shutdown);
    loop {
        let deadline = Instant::now() + settings.header_read_timeout;
        let (req, keep_alive) = loop {
            if !conn.buf.is_empty() {
                match parse_request(&mut conn.buf, settings.max_header_size) {
                    Parsed::Request(req, keep_alive) => break (req, keep_alive),
                    Parsed::Partial => {}
                    Parsed::Invalid => {
                        let _ = conn.stream.write_all(BAD_REQUEST).await;
                        return;
                    }
                    Parsed::ForHyper => return hyper_serve(conn, client, closing_asked).await,
                }
            }
            let more = poll_fn(|cx| poll_more(&mut conn, cx, deadline, shutdown.as_mut())).await;
            if !more {
                return;
            }
        };
        let head_only = req.method() == Method::HEAD;
        let version = req.version();
        let Ok(res) = client.proxy.handle(req, &client).await;
        // Shutting down: this is the connection's last response.
        let keep_alive = keep_alive && !closing_asked.has_changed().unwrap_or(true);
        let answer = Answer {
            head_only,
            version,
            keep_alive,
        };
        match write_response(&mut conn.stream, &mut out, res, answer).await {
            Ok(true) => {}
            Ok(false) => {
                let _ = conn.stream.shutdown().await;
                return;
            }
            Err(_) => return,
        }
    }
}

/// Reads more of a head into `conn.buf`. False: stop serving (the client closed or failed, the
/// head took too long, or the proxy is shutting down while this connection is between requests).
fn poll_more(
    conn: &mut Conn,
    cx: &mut Context<'_>,
    deadline: Instant,
    shutdown: Pin<&mut impl Future>,
) -> Poll<bool> {
    match conn.poll_fill(cx) {
        Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(false),
        Poll::Ready(Ok(_)) => return Poll::Ready(true),
        Poll::Pending => {}
    }
    if conn.poll_deadline(cx, deadline).is_ready() {
        return Poll::Ready(false);
    }
    // Polled only while idle; once ready the connection ends, so it is never polled again.
    if conn.buf.is_empty() && shutdown.poll(cx).is_ready() {
        return Poll::Ready(false);
    }
    Poll::Pending
}

/// What reading the buffer's front as a request head gave.
#[allow(clippy::large_enum_variant)] // Returned once per request and matched at once; no boxing.
enum Parsed {
    /// Not a whole head yet.
    Partial,
    /// A bodyless request, taken off the buffer, and whether the client keeps the connection.
    Request(Request<RequestBody>, bool),
    /// Left in the buffer for hyper: a body, an upgrade, an error it answers (see module docs).
    ForHyper,
    /// Taken off the buffer but unusable: answer 400 and close.
    Invalid,
}

/// Parses the request head at the front of `buf`: see [`Parsed`]. Header values share the head's
/// bytes (no copy per header), as in hyper.
fn parse_request(buf: &mut BytesMut, max_head: usize) -> Parsed {
    let mut slots = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut parsed,
        buf,
        &mut slots,
    ) {
        Ok(httparse::Status::Complete(n)) if n <= max_head => n,
        Ok(httparse::Status::Partial) if buf.len() <= max_head => return Parsed::Partial,
        _ => return Parsed::ForHyper,
    };
    let (Some(method), Some(path)) = (parsed.method, parsed.path) else {
        return Parsed::ForHyper;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return Parsed::ForHyper;
    };
    if !path.starts_with('/') || u32::try_from(len).is_err() {
        return Parsed::ForHyper;
    }
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let base = buf.as_ptr() as usize;
    let offset = |s: &[u8]| (s.as_ptr() as usize - base) as u32;
    let path_at = (
        offset(path.as_bytes()),
        offset(path.as_bytes()) + path.len() as u32,
    );
    // Where each header's name and value are, so the values can share the head once it is split
    // off the buffer.
    let mut spans = [(0u32, 0u32, 0u32, 0u32); MAX_HEADERS];
    let (mut close, mut keep_alive_token) = (false, false);
    let mut hosts = 0;
    for (span, h) in spans.iter_mut().zip(parsed.headers.iter()) {
        let name = h.name.as_bytes();
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        match name.len() {
            // RFC 9112 §3.2: one Host line with a valid value, or 400 (`rules`). Two would let
            // the proxy route by the first while the project reads the last.
            4 if is("host") => {
                hosts += 1;
                if hosts > 1 || !rules::host_value_ok(h.value) {
                    return Parsed::Invalid;
                }
            }
            14 if is("content-length") && h.value != b"0" => return Parsed::ForHyper,
            17 if is("transfer-encoding") => return Parsed::ForHyper,
            7 if is("upgrade") => return Parsed::ForHyper,
            6 if is("expect") => return Parsed::ForHyper,
            10 if is("connection") => {
                for token in h.value.split(|&b| b == b',') {
                    let token = token.trim_ascii();
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            _ => {}
        }
        let (n, v) = (offset(name), offset(h.value));
        *span = (n, n + name.len() as u32, v, v + h.value.len() as u32);
    }
    if hosts == 0 && version == Version::HTTP_11 {
        return Parsed::Invalid;
    }
    let count = parsed.headers.len();
    let head = buf.split_to(len).freeze();
    let slice = |(from, to): (u32, u32)| head.slice(from as usize..to as usize);
    let Ok(uri) = Uri::from_maybe_shared(slice(path_at)) else {
        return Parsed::Invalid;
    };
    let mut headers = HeaderMap::with_capacity(count);
    for &(n0, n1, v0, v1) in &spans[..count] {
        let Ok(name) = HeaderName::from_bytes(&head[n0 as usize..n1 as usize]) else {
            return Parsed::Invalid;
        };
        // SAFETY: httparse accepted these bytes as a field value (HTAB, SP, VCHAR, obs-text;
        // never CR, LF or other controls), which is exactly what a `HeaderValue` may hold.
        let value = unsafe { HeaderValue::from_maybe_shared_unchecked(slice((v0, v1))) };
        headers.append(name, value);
    }
    let mut req = Request::new(RequestBody::Empty);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = version;
    *req.headers_mut() = headers;
    // HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 only with `keep-alive`.
    let keep_alive = match version {
        Version::HTTP_10 => keep_alive_token && !close,
        _ => !close,
    };
    Parsed::Request(req, keep_alive)
}

/// How a response is to be written.
#[derive(Debug, Clone, Copy)]
struct Answer {
    /// The request was HEAD: headers only.
    head_only: bool,
    /// The request's version, which the status line repeats.
    version: Version,
    /// The client (and the proxy) would keep the connection after this response.
    keep_alive: bool,
}

/// How the response body is delimited on the way to the visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// HTTP/1.0 and no length: the body ends when the connection closes.
    UntilClose,
}

/// Writes the response head and streams its body (with backpressure: the next frame is asked
/// for only once the last is written). Ok(true): the connection can carry another request.
async fn write_response<W: AsyncWrite + Unpin>(
    stream: &mut W,
    out: &mut Vec<u8>,
    res: Response<ProxyBody>,
    answer: Answer,
) -> io::Result<bool> {
    let (parts, mut body) = res.into_parts();
    let (framing, keep_alive) = encode_response_head(&parts, &body, answer, out);
    if framing == Framing::None {
        // A HEAD's upstream body is already over; a page's is dropped unread.
        stream.write_all(out).await?;
        out.clear();
        return Ok(keep_alive);
    }
    // Bytes the head announced and not yet sent (Length).
    let mut left = match framing {
        Framing::Length(n) => n,
        _ => 0,
    };
    // The last chunk went out with the trailers (Chunked).
    let mut ended = false;
    loop {
        let next = poll_fn(|cx| match Pin::new(&mut body).poll_frame(cx) {
            // Nothing to send yet: the head (or the last chunk's end) goes out meanwhile.
            Poll::Pending if !out.is_empty() => Poll::Ready(Next::Flush),
            Poll::Pending => Poll::Pending,
            Poll::Ready(frame) => Poll::Ready(Next::Frame(frame)),
        })
        .await;
        let frame = match next {
            Next::Flush => {
                stream.write_all(out).await?;
                out.clear();
                continue;
            }
            Next::Frame(None) => break,
            Next::Frame(Some(Ok(frame))) => frame,
            // The body broke (the upstream went away mid-response): the visitor sees the
            // response cut short, never a complete-looking one.
            Next::Frame(Some(Err(_))) => {
                stream.write_all(out).await?;
                return Ok(false);
            }
        };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let (Framing::Chunked, Ok(trailers)) = (framing, frame.into_trailers()) {
                    encode_last_chunk(&trailers, out);
                    ended = true;
                }
                continue;
            }
        };
        if data.is_empty() {
            continue;
        }
        match framing {
            Framing::Length(_) if data.len() as u64 > left => {
                // More than the head announced: sending it would corrupt the next response.
                stream.write_all(out).await?;
                return Ok(false);
            }
            Framing::Length(_) => left -= data.len() as u64,
            Framing::Chunked => encode_chunk_size(data.len(), out),
            _ => {}
        }
        write_both(stream, out, &data).await?;
        if framing == Framing::Chunked {
            out.extend_from_slice(b"\r\n");
        }
    }
    let complete = match framing {
        Framing::Length(_) => left == 0,
        Framing::Chunked => {
            if !ended {
                out.extend_from_slice(b"0\r\n\r\n");
            }
            true
        }
        _ => true,
    };
    if !out.is_empty() {
        stream.write_all(out).await?;
        out.clear();
    }
    Ok(keep_alive && complete)
}

/// What the response body gave next, or that the head should go out while it waits.
enum Next {
    Flush,
    Frame(Option<Result<Frame<Bytes>, BoxError>>),
}

/// The status line, the response's headers, and the framing, `Connection` and `Date` headers
/// this side owns, into `out`. Returns the body's framing and whether the connection stays open.
fn encode_response_head(
    parts: &hyper::http::response::Parts,
    body: &ProxyBody,
    answer: Answer,
    out: &mut Vec<u8>,
) -> (Framing, bool) {
    let mut keep_alive = answer.keep_alive;
    let status = parts.status;
    out.extend_from_slice(match answer.version {
        Version::HTTP_10 => b"HTTP/1.0 ",
        _ => b"HTTP/1.1 ",
    });
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut length = None;
    let mut has_date = false;
    for (name, value) in &parts.headers {
        if name == header::CONNECTION {
            // Ours to write; the handler's only word is `close`.
            keep_alive &= !value.as_bytes().eq_ignore_ascii_case(b"close");
            continue;
        }
        if name == header::TRANSFER_ENCODING {
            continue;
        }
        if name == header::CONTENT_LENGTH {
            // The first usable one frames the body (an upstream's were checked to agree).
            if length.is_some() {
                continue;
            }
            match std::str::from_utf8(value.as_bytes())
                .ok()
                .and_then(|v| v.parse().ok())
            {
                Some(n) => length = Some(n),
                None => continue,
            }
        }
        has_date |= name == header::DATE;
        line(out, name.as_str().as_bytes(), value.as_bytes());
    }
    let bodyless = answer.head_only
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let exact = body.size_hint().exact();
    let framing = if bodyless {
        // A HEAD answered by a page (not an upstream) announces the length a GET would get.
        if answer.head_only
            && length.is_none()
            && let Some(n) = exact.filter(|&n| n > 0)
        {
            length_line(out, n);
        }
        Framing::None
    } else if let Some(n) = length {
        Framing::Length(n)
    } else if let Some(n) = exact {
        length_line(out, n);
        Framing::Length(n)
    } else if answer.version == Version::HTTP_11 {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        Framing::Chunked
    } else {
        keep_alive = false;
        Framing::UntilClose
    };
    match (keep_alive, answer.version) {
        (false, _) => out.extend_from_slice(b"connection: close\r\n"),
        (true, Version::HTTP_10) => out.extend_from_slice(b"connection: keep-alive\r\n"),
        _ => {}
    }
    if !has_date {
        line(out, b"date", &httpdate::now());
    }
    out.extend_from_slice(b"\r\n");
    (framing, keep_alive)
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn length_line(out: &mut Vec<u8>, n: u64) {
    line(
        out,
        b"content-length",
        itoa::Buffer::new().format(n).as_bytes(),
    );
}

fn encode_chunk_size(len: usize, out: &mut Vec<u8>) {
    use std::io::Write;
    let _ = write!(out, "{len:x}\r\n");
}

/// The last chunk with trailers, ending a chunked body.
fn encode_last_chunk(trailers: &HeaderMap, out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers {
        line(out, name.as_str().as_bytes(), value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes `out` then `data`, in one system call when the kernel takes both; empties `out`.
async fn write_both<W: AsyncWrite + Unpin>(
    stream: &mut W,
    out: &mut Vec<u8>,
    data: &[u8],
) -> io::Result<()> {
    if out.is_empty() {
        return stream.write_all(data).await;
    }
    let mut slices = [IoSlice::new(out), IoSlice::new(data)];
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        let n = stream.write_vectored(slices).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    out.clear();
    Ok(())
}

/// Hyper's server for the rest of the connection, starting with the bytes already read.
async fn hyper_serve(conn: Conn, client: Arc<ClientConn>, mut closing: watch::Receiver<bool>) {
    let header_read_timeout = client.proxy.settings.header_read_timeout;
    let max_header_size = client.proxy.settings.max_header_size;
    let io = TokioIo::new(framing::HeadWatch::new(
        conn.stream,
        client.framing.clone(),
        conn.buf.freeze(),
    ));
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let client = client.clone();
        async move {
            client
                .proxy
                .handle(req.map(RequestBody::Hyper), &client)
                .await
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_header_size(max_header_size)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = async { let _ = closing.wait_for(|c| *c).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;
