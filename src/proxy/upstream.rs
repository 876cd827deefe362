//! Keep-alive connections to upstreams, pooled per socket address, on hyper's connection-level
//! HTTP/1 client.
//!
//! Why not hyper-util's pooled `Client`: per request it hashes the authority into its pool map,
//! races a checkout against a lazy connect, and spawns a task that waits for the connection to
//! become idle again before returning it (bench/callgrind.sh put it at a few thousand
//! instructions per request). Here a connection goes back to its upstream's idle list the moment
//! the response body ends ([`PooledBody`] does it, no task), and a request hyper hands back
//! because the pooled connection had closed before it was written (`try_send_request`) simply
//! goes out on another one.
//!
//! Retries (for requests the caller marks safe: idempotent, no body): one more attempt after a
//! failed connect, or after a pooled connection that had been idle for [`STALE_AFTER`] or more
//! closed without answering. That is the race with an upstream's keep-alive timeout (Node closes
//! idle connections after 5 s, Apache after 5 s): the upstream closes just as a request goes out.
//! Only then is a copy of the request head kept, so busy connections pay nothing for it.
//!
//! Each connection is driven by its own task (hyper's `Connection`, with upgrades, so WebSocket
//! responses can take over the socket). A connection is never shared by two requests at once: it
//! is either leased to one request or idle in the pool.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::body::UpstreamBody;

/// Idle connections kept per upstream; one coming back to a full list is closed instead.
const MAX_IDLE_PER_UPSTREAM: usize = 1024;

/// A pooled connection idle this long may be closing under us (an upstream's keep-alive timeout):
/// safe requests sent on it keep a copy to send again.
pub const STALE_AFTER: Duration = Duration::from_secs(1);

/// Why an upstream exchange failed before response headers arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Nothing was sent: the TCP connect failed or timed out.
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The connection failed after the request started going out.
    #[error("{0}")]
    Http(#[from] hyper::Error),
}

impl UpstreamError {
    /// True when the upstream application surely never acted on the request: the connect failed,
    /// or a reused connection closed before any response byte came back.
    pub fn retryable(&self) -> bool {
        match self {
            UpstreamError::Connect { .. } => true,
            UpstreamError::Http(e) => e.is_incomplete_message() || e.is_canceled(),
        }
    }
}

struct Idle {
    sender: SendRequest<UpstreamBody>,
    /// When it came back; connections idle longer than the idle timeout are closed.
    since: Instant,
}

/// The pool: idle connections by upstream address.
pub struct Upstreams {
    idle: Mutex<HashMap<SocketAddr, Vec<Idle>>>,
    connect_timeout: Duration,
    /// How long an unused connection is kept; also the reaper's period.
    idle_timeout: Duration,
    /// Set once the reaper task runs (it is started on first use, inside the runtime).
    reaper: std::sync::Once,
}

impl Upstreams {
    pub fn new(connect_timeout: Duration, idle_timeout: Duration) -> Arc<Upstreams> {
        Arc::new(Upstreams {
            idle: Mutex::new(HashMap::new()),
            connect_timeout,
            idle_timeout,
            reaper: std::sync::Once::new(),
        })
    }

    /// Sends `req` (origin-form URI) to `addr` over a pooled connection, or a new one. Returns the
    /// response with the lease on its connection, which the caller attaches to the response body
    /// ([`Lease::attach`]) so the connection returns to the pool when the body ends. `retry`: the
    /// request is safe to send twice (idempotent, no body); see the module comment.
    pub async fn send(
        self: &Arc<Self>,
        addr: SocketAddr,
        mut req: Request<UpstreamBody>,
        retry: bool,
    ) -> Result<(Response<Incoming>, Lease), UpstreamError> {
        let mut may_retry = retry;
        loop {
            let (mut sender, reused, idle_for) = match self.checkout(addr) {
                Some((sender, idle_for)) => (sender, true, idle_for),
                None => match self.connect(addr).await {
                    Ok(sender) => (sender, false, Duration::ZERO),
                    Err(e) if may_retry => {
                        tracing::debug!(upstream = %addr, error = %e, "connect failed; retrying once");
                        may_retry = false;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            let copy = (may_retry && reused && idle_for >= STALE_AFTER).then(|| head_copy(&req));
            match sender.try_send_request(req).await {
                Ok(res) => {
                    let lease = Lease {
                        sender: Some(sender),
                        addr,
                        pool: Arc::downgrade(self),
                    };
                    return Ok((res, lease));
                }
                Err(mut e) => match e.take_message() {
                    // Never written: the pooled connection was closing. Try another one.
                    Some(back) if reused => req = back,
                    _ => {
                        let e = UpstreamError::Http(e.into_error());
                        match copy {
                            Some(again) if e.retryable() => {
                                tracing::debug!(upstream = %addr, error = %e, "stale connection; retrying once");
                                may_retry = false;
                                req = again;
                            }
                            _ => return Err(e),
                        }
                    }
                },
            }
        }
    }

    /// The most recently returned live connection to `addr` and how long it was idle, dropping
    /// closed ones and those idle past the timeout.
    fn checkout(&self, addr: SocketAddr) -> Option<(SendRequest<UpstreamBody>, Duration)> {
        let mut idle = self.idle.lock().expect("upstream pool poisoned");
        let list = idle.get_mut(&addr)?;
        while let Some(c) = list.pop() {
            let idle_for = c.since.elapsed();
            if !c.sender.is_closed() && idle_for < self.idle_timeout {
                return Some((c.sender, idle_for));
            }
        }
        None
    }

    async fn connect(&self, addr: SocketAddr) -> Result<SendRequest<UpstreamBody>, UpstreamError> {
        let connect_err = |source| UpstreamError::Connect { addr, source };
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| connect_err(std::io::ErrorKind::TimedOut.into()))?
            .map_err(connect_err)?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(upstream = %addr, error = %e, "upstream connection ended");
            }
        });
        Ok(sender)
    }

    fn checkin(self: &Arc<Self>, addr: SocketAddr, sender: SendRequest<UpstreamBody>) {
        if sender.is_closed() {
            return;
        }
        self.reaper.call_once(|| {
            tokio::spawn(reap(Arc::downgrade(self), self.idle_timeout));
        });
        let mut idle = self.idle.lock().expect("upstream pool poisoned");
        let list = idle.entry(addr).or_default();
        if list.len() < MAX_IDLE_PER_UPSTREAM {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Idle connections per upstream, for tests and diagnostics.
    pub fn idle_count(&self, addr: SocketAddr) -> usize {
        let idle = self.idle.lock().expect("upstream pool poisoned");
        idle.get(&addr).map_or(0, Vec::len)
    }
}

/// A body-less copy of `req`'s head, to send again.
fn head_copy(req: &Request<UpstreamBody>) -> Request<UpstreamBody> {
    let mut copy = Request::new(UpstreamBody::Empty);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    copy
}

/// Closes connections idle past the timeout (and forgets upstreams with none left), so a removed
/// project's connections do not linger. Ends with the pool.
async fn reap(pool: Weak<Upstreams>, period: Duration) {
    loop {
        tokio::time::sleep(period.max(Duration::from_secs(1))).await;
        let Some(pool) = pool.upgrade() else { return };
        let mut idle = pool.idle.lock().expect("upstream pool poisoned");
        idle.retain(|_, list| {
            list.retain(|c| !c.sender.is_closed() && c.since.elapsed() < pool.idle_timeout);
            !list.is_empty()
        });
    }
}

/// One request's hold on a connection. Dropped without [`Lease::attach`] (an error, an upgrade),
/// the connection is not reused.
pub struct Lease {
    sender: Option<SendRequest<UpstreamBody>>,
    addr: SocketAddr,
    pool: Weak<Upstreams>,
}

impl Lease {
    /// The response body, returning the connection to the pool when it ends. A body that is
    /// already complete (HEAD, 204, 304, empty) returns it at once.
    pub fn attach(mut self, body: Incoming) -> PooledBody {
        if body.is_end_stream() {
            self.release();
            return PooledBody {
                inner: body,
                lease: None,
            };
        }
        PooledBody {
            inner: body,
            lease: Some(self),
        }
    }

    fn release(&mut self) {
        if let (Some(sender), Some(pool)) = (self.sender.take(), self.pool.upgrade()) {
            pool.checkin(self.addr, sender);
        }
    }
}

/// An upstream response body that gives its connection back when it has been read to the end.
/// If the visitor goes away first, the body is dropped unfinished and so is the connection.
pub struct PooledBody {
    inner: Incoming,
    lease: Option<Lease>,
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            Some(Ok(_)) if this.inner.is_end_stream() => {
                if let Some(mut lease) = this.lease.take() {
                    lease.release();
                }
            }
            None => {
                if let Some(mut lease) = this.lease.take() {
                    lease.release();
                }
            }
            // A broken body means a broken connection: drop the lease with it.
            Some(Err(_)) => this.lease = None,
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
