//! Keep-alive connections to upstreams, pooled per socket address, and one request/response
//! exchange on them (the codec is [`super::h1`]).
//!
//! A connection is never shared by two requests at once: it is either leased to one request (and
//! then owned by that request's response body) or idle in the pool. The visitor's task drives it
//! directly: no task per connection and no channel between the request and its connection. It goes
//! back to the pool the moment its response body ends ([`ResponseBody`] does it).
//!
//! An idle connection the upstream has closed (its keep-alive timeout: Node and Apache close after
//! 5 s) is noticed at checkout without a system call, from the readiness the runtime already has,
//! and dropped. If the upstream closes it just as a request goes out, the request fails before any
//! response byte; a request the caller marks safe (idempotent, no body) is then sent once more,
//! on a fresh connection. So is one whose TCP connect failed.

use std::collections::HashMap;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use hyper::body::Body;
use hyper::header;
use hyper::http::request;
use hyper::{Method, Request, Response};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

use super::BoxError;
use super::body::UpstreamBody;
use super::forwarded::Forwarded;
pub(crate) use super::h1::ResponseBody;
use super::h1::{self, Conn, Head, ProtocolError, RequestFraming};

/// Upstream addresses come from the config and from Docker, never from visitors, so the pool can
/// use a fast unkeyed hash (SipHash cost ≈ 900 instructions per request for the two lookups).
#[derive(Default)]
struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type ByAddr<V> = HashMap<SocketAddr, V, std::hash::BuildHasherDefault<AddrHasher>>;

/// Idle connections kept per upstream; one coming back to a full list is closed instead.
const MAX_IDLE_PER_UPSTREAM: usize = 1024;

/// Why an upstream exchange failed before response headers arrived.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// Nothing was sent: the TCP connect failed or timed out.
    #[error("connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("connection closed before a response")]
    Closed,
    /// No response head within the response header timeout.
    #[error("no response headers within the response header timeout")]
    Timeout,
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    /// The visitor's request body failed (too large, broken framing): see the body's fault cell.
    #[error("request body: {0}")]
    Body(BoxError),
}

struct Idle {
    conn: Conn,
    /// When it came back; connections idle longer than the idle timeout are closed.
    since: Instant,
}

/// A new upstream connection being made by a [`Dialer`].
pub type Dialing = Pin<Box<dyn std::future::Future<Output = io::Result<TcpStream>> + Send>>;

/// Makes upstream connections the host cannot make itself (swarm mode: sockets on an overlay
/// network, docs/scale-out.md). Asked for every new connection; `None` means a plain connect
/// from the host. The proxy still knows nothing of Docker: the control plane supplies it.
pub trait Dialer: Send + Sync + 'static {
    /// A connection to `addr`, or `None` to connect from the host as usual.
    fn dial(&self, addr: SocketAddr) -> Option<Dialing>;
}

/// The pool: idle connections by upstream address.
pub(crate) struct Upstreams {
    idle: Mutex<ByAddr<Vec<Idle>>>,
    /// Makes the connections the host cannot; `None`: every connect is the host's own.
    dialer: Option<Arc<dyn Dialer>>,
    connect_timeout: Duration,
    /// How long an unused connection is kept; also the reaper's period.
    idle_timeout: Duration,
    /// Set once the reaper task runs (it is started on first use, inside the runtime).
    reaper: std::sync::Once,
}

impl h1::Pool for Upstreams {
    fn checkin(self: Arc<Self>, addr: SocketAddr, conn: Conn) {
        Upstreams::checkin(&self, addr, conn);
    }
}

impl Upstreams {
    pub(crate) fn new(
        connect_timeout: Duration,
        idle_timeout: Duration,
        dialer: Option<Arc<dyn Dialer>>,
    ) -> Arc<Upstreams> {
        Arc::new(Upstreams {
            idle: Mutex::new(ByAddr::default()),
            dialer,
            connect_timeout,
            idle_timeout,
            reaper: std::sync::Once::new(),
        })
    }

    /// Sends `req` to `addr` (HTTP/1.1, origin form, as `outgoing` says) over a pooled
    /// connection or a new one and returns the response once its head has arrived; the body
    /// streams from the connection.
    pub(crate) async fn send(
        self: &Arc<Self>,
        addr: SocketAddr,
        req: Request<UpstreamBody>,
        outgoing: &Outgoing<'_>,
    ) -> Result<Response<ResponseBody>, UpstreamError> {
        let (parts, mut body) = req.into_parts();
        let framing = match body {
            UpstreamBody::Empty => RequestFraming::Empty,
            _ if parts.headers.contains_key(header::CONTENT_LENGTH) => RequestFraming::Length,
            _ => RequestFraming::Chunked,
        };
        let head = encode_head(&parts, outgoing, framing);
        let mut may_retry = outgoing.retry;
        loop {
            let (mut conn, reused) = match self.checkout(addr) {
                Some(conn) => (conn, true),
                None => match self.connect(addr).await {
                    Ok(conn) => (conn, false),
                    Err(e) if may_retry => {
                        tracing::debug!(upstream = %addr, error = %e, "connect failed; retrying once");
                        may_retry = false;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            let mut exchange = Exchange::new(head.clone(), framing);
            let deadline = tokio::time::Instant::now() + outgoing.wait;
            let answer =
                poll_fn(
                    |cx| match exchange.poll(cx, &mut conn, &mut body, &parts.method) {
                        Poll::Pending => conn
                            .poll_deadline(cx, deadline)
                            .map(|()| Err(UpstreamError::Timeout)),
                        done => done,
                    },
                );
            match answer.await {
                Ok(mut head) => {
                    // An upstream that answered before taking the whole body cannot be reused.
                    head.keep_alive &= exchange.sent_all();
                    let pool: Weak<Upstreams> = Arc::downgrade(self);
                    let home = h1::Home::new(pool, addr);
                    let body = ResponseBody::new(conn, &head, home);
                    return Ok(head.response.map(|()| body));
                }
                Err(e)
                    if reused
                        && may_retry
                        && exchange.received == 0
                        && !matches!(e, UpstreamError::Body(_) | UpstreamError::Timeout) =>
                {
                    tracing::debug!(upstream = %addr, error = %e, "pooled connection closed; retrying once");
                    may_retry = false;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The most recently returned usable connection to `addr`, dropping closed ones and those
    /// idle past the timeout.
    fn checkout(&self, addr: SocketAddr) -> Option<Conn> {
        let mut idle = self.idle.lock().expect("upstream pool poisoned");
        let list = idle.get_mut(&addr)?;
        while let Some(c) = list.pop() {
            if c.since.elapsed() < self.idle_timeout && c.conn.looks_idle() {
                return Some(c.conn);
            }
        }
        None
    }

    async fn connect(&self, addr: SocketAddr) -> Result<Conn, UpstreamError> {
        let connect_err = |source| UpstreamError::Connect { addr, source };
        let dialing = match self.dialer.as_ref().and_then(|d| d.dial(addr)) {
            Some(dialing) => dialing,
            None => Box::pin(TcpStream::connect(addr)),
        };
        let stream = tokio::time::timeout(self.connect_timeout, dialing)
            .await
            .map_err(|_| connect_err(io::ErrorKind::TimedOut.into()))?
            .map_err(connect_err)?;
        let _ = stream.set_nodelay(true);
        Ok(Conn::new(stream))
    }

    fn checkin(self: &Arc<Self>, addr: SocketAddr, conn: Conn) {
        self.reaper.call_once(|| {
            tokio::spawn(reap(Arc::downgrade(self), self.idle_timeout));
        });
        let mut idle = self.idle.lock().expect("upstream pool poisoned");
        let list = idle.entry(addr).or_default();
        if list.len() < MAX_IDLE_PER_UPSTREAM {
            list.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }
}

/// What the proxy does to a request on its way upstream, besides its own header surgery.
pub(crate) struct Outgoing<'a> {
    /// Bytes of the path's front to strip (the route's prefix).
    pub(crate) strip: usize,
    /// Written after the request's own headers.
    pub(crate) forwarded: &'a Forwarded,
    /// Bounds each attempt's wait for the response head (the connect has its own timeout).
    pub(crate) wait: Duration,
    /// The request is safe to send twice (idempotent, no body); see the module comment.
    pub(crate) retry: bool,
}

/// The request head as bytes, made once: a retry sends the same bytes again.
fn encode_head(parts: &request::Parts, outgoing: &Outgoing<'_>, framing: RequestFraming) -> Bytes {
    let mut out = Vec::with_capacity(256 + parts.headers.len() * 48);
    let (path, query) = h1::request_target(&parts.uri, outgoing.strip);
    h1::encode_request_head(
        &parts.method,
        (path, query),
        &parts.headers,
        outgoing.forwarded.lines(),
        framing,
        &mut out,
    );
    Bytes::from(out)
}

/// Closes connections idle past the timeout or closed by their upstream (and forgets upstreams
/// with none left), so a removed project's connections do not linger. Ends with the pool.
async fn reap(pool: Weak<Upstreams>, period: Duration) {
    loop {
        tokio::time::sleep(period.max(Duration::from_secs(1))).await;
        let Some(pool) = pool.upgrade() else { return };
        let mut idle = pool.idle.lock().expect("upstream pool poisoned");
        idle.retain(|_, list| {
            list.retain(|c| c.since.elapsed() < pool.idle_timeout && c.conn.looks_idle());
            !list.is_empty()
        });
    }
}

/// One request going out while its response head comes in. Both sides are polled together, so an
/// upstream that answers before reading the whole body (a 413, say) is heard, and a `100 Continue`
/// is skipped while the body keeps flowing.
struct Exchange {
    /// Bytes waiting to be written, in order: at most a chunk's size line, its data and CRLF.
    out: [Bytes; 3],
    /// `out[next..len]` are still to go.
    next: usize,
    len: usize,
    framing: RequestFraming,
    /// The request body has ended (or there was none).
    body_done: bool,
    /// Chunked trailers went out with the last chunk.
    trailers_sent: bool,
    /// Response bytes read: none means the upstream never answered (a retry is safe).
    received: usize,
}

impl Exchange {
    fn new(head: Bytes, framing: RequestFraming) -> Exchange {
        Exchange {
            out: [head, Bytes::new(), Bytes::new()],
            next: 0,
            len: 1,
            framing,
            body_done: framing == RequestFraming::Empty,
            trailers_sent: false,
            received: 0,
        }
    }

    fn sent_all(&self) -> bool {
        self.body_done && self.next == self.len
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Conn,
        body: &mut UpstreamBody,
        method: &Method,
    ) -> Poll<Result<Head, UpstreamError>> {
        loop {
            if !self.sent_all()
                && let Poll::Ready(Err(e)) = self.poll_send(cx, &mut conn.stream, body)
            {
                return Poll::Ready(Err(e));
            }
            while !conn.buf.is_empty() {
                match h1::parse_response_head(&mut conn.buf, method)? {
                    // 100 Continue and friends: the final answer follows.
                    Some(head)
                        if head.response.status().is_informational()
                            && head.response.status() != hyper::StatusCode::SWITCHING_PROTOCOLS => {
                    }
                    Some(head) => return Poll::Ready(Ok(head)),
                    None => break,
                }
            }
            match ready!(conn.poll_fill(cx)) {
                Ok(0) => return Poll::Ready(Err(UpstreamError::Closed)),
                Ok(n) => self.received += n,
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }

    /// Writes what is queued, then the next body frame, until the body ends or the socket or the
    /// body makes us wait.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut TcpStream,
        body: &mut UpstreamBody,
    ) -> Poll<Result<(), UpstreamError>> {
        loop {
            while self.next < self.len {
                let slices: [IoSlice<'_>; 3] = std::array::from_fn(|i| {
                    IoSlice::new(self.out.get(self.next + i).map_or(&[][..], |b| &b[..]))
                });
                let n = ready!(
                    Pin::new(&mut *stream).poll_write_vectored(cx, &slices[..self.len - self.next])
                )?;
                if n == 0 {
                    return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
                }
                self.advance(n);
            }
            if self.body_done {
                return Poll::Ready(Ok(()));
            }
            let chunked = self.framing == RequestFraming::Chunked;
            match ready!(Pin::new(&mut *body).poll_frame(cx)) {
                None => {
                    self.body_done = true;
                    if chunked && !self.trailers_sent {
                        self.queue(
                            [Bytes::from_static(b"0\r\n\r\n"), Bytes::new(), Bytes::new()],
                            1,
                        );
                    }
                }
                Some(Err(e)) => return Poll::Ready(Err(UpstreamError::Body(e))),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if data.is_empty() => {}
                    Ok(data) if chunked => {
                        let size = Bytes::from(format!("{:x}\r\n", data.len()));
                        self.queue([size, data, Bytes::from_static(b"\r\n")], 3);
                    }
                    Ok(data) => self.queue([data, Bytes::new(), Bytes::new()], 1),
                    Err(frame) => {
                        // Trailers travel only in a chunked body; the last chunk carries them.
                        if let (true, Ok(trailers)) = (chunked, frame.into_trailers()) {
                            let mut last = b"0\r\n".to_vec();
                            for (name, value) in &trailers {
                                last.extend_from_slice(name.as_str().as_bytes());
                                last.extend_from_slice(b": ");
                                last.extend_from_slice(value.as_bytes());
                                last.extend_from_slice(b"\r\n");
                            }
                            last.extend_from_slice(b"\r\n");
                            self.trailers_sent = true;
                            self.queue([Bytes::from(last), Bytes::new(), Bytes::new()], 1);
                        }
                    }
                },
            }
        }
    }

    fn queue(&mut self, parts: [Bytes; 3], len: usize) {
        self.out = parts;
        self.next = 0;
        self.len = len;
    }

    /// Drops `n` written bytes from the front of the queue.
    fn advance(&mut self, mut n: usize) {
        while n > 0 && self.next < self.len {
            let front = &mut self.out[self.next];
            let step = n.min(front.len());
            front.advance(step);
            n -= step;
            if front.is_empty() {
                self.next += 1;
            }
        }
        while self.next < self.len && self.out[self.next].is_empty() {
            self.next += 1;
        }
    }
}
