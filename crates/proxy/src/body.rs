//! Bodies through the proxy. The request body on its way upstream ([`UpstreamBody`]): streamed
//! frame by frame (hyper's backpressure carries through, so memory stays bounded whatever the
//! size), cut off at the body size limit, and remembering why it failed so the proxy can answer
//! 413 or 400 instead of a generic 502. And [`ProxyBody`], what every response carries.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::BoxError;

/// Why a request body stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None = 0,
    /// More bytes than `max_body_size`.
    TooLarge = 1,
    /// The client's framing was broken (bad chunk, early close).
    Broken = 2,
}

/// Shared between the body (writer) and the request handler (reader after the upstream call).
#[derive(Debug, Default)]
pub(crate) struct FaultCell(AtomicU8);

impl FaultCell {
    pub(crate) fn get(&self) -> Fault {
        match self.0.load(Ordering::Acquire) {
            1 => Fault::TooLarge,
            2 => Fault::Broken,
            _ => Fault::None,
        }
    }
    fn set(&self, f: Fault) {
        self.0.store(f as u8, Ordering::Release);
    }
}

#[derive(Debug, thiserror::Error)]
#[error("request body larger than the limit of {0} bytes")]
pub(crate) struct TooLarge(u64);

/// A visitor's request body as the handler gets it: none (the requests clubhost's own visitor
/// server reads, see `visitor`, never have one) or hyper's (every other request).
pub enum RequestBody {
    /// No body.
    Empty,
    /// The body hyper read from the visitor's connection, streamed to the upstream.
    Hyper(Incoming),
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            RequestBody::Empty => Poll::Ready(None),
            RequestBody::Hyper(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Empty => true,
            RequestBody::Hyper(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Empty => SizeHint::with_exact(0),
            RequestBody::Hyper(b) => b.size_hint(),
        }
    }
}

/// A request body forwarded upstream.
pub(crate) enum UpstreamBody {
    /// No body (or a retry of a request that had none).
    Empty,
    Stream {
        inner: RequestBody,
        /// Bytes still allowed before the limit.
        remaining: u64,
        limit: u64,
        fault: Arc<FaultCell>,
        /// Told when the body has been read to its end, so the next head is scanned again.
        framing: Arc<super::framing::FramingFlags>,
    },
}

impl UpstreamBody {
    pub(crate) fn limited(
        inner: RequestBody,
        limit: u64,
        fault: Arc<FaultCell>,
        framing: Arc<super::framing::FramingFlags>,
    ) -> UpstreamBody {
        UpstreamBody::Stream {
            inner,
            remaining: limit,
            limit,
            fault,
            framing,
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            UpstreamBody::Empty => Poll::Ready(None),
            UpstreamBody::Stream {
                inner,
                remaining,
                limit,
                fault,
                framing,
            } => match ready!(Pin::new(inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        let n = data.len() as u64;
                        if n > *remaining {
                            fault.set(Fault::TooLarge);
                            return Poll::Ready(Some(Err(Box::new(TooLarge(*limit)))));
                        }
                        *remaining -= n;
                    }
                    Poll::Ready(Some(Ok(frame)))
                }
                Some(Err(e)) => {
                    fault.set(Fault::Broken);
                    Poll::Ready(Some(Err(Box::new(e))))
                }
                None => {
                    framing.resume();
                    Poll::Ready(None)
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Empty => true,
            UpstreamBody::Stream { inner, .. } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Empty => SizeHint::with_exact(0),
            UpstreamBody::Stream { inner, .. } => inner.size_hint(),
        }
    }
}

/// Every response the proxy sends: an upstream's body as it comes (the common case, so it is
/// neither boxed nor wrapped: that was an allocation and two indirect calls per request), or
/// anything else (the portal's, the proxy's own pages) boxed.
#[allow(clippy::large_enum_variant)] // Not boxing the common variant is the point.
pub(crate) enum ProxyBody {
    /// The lease counts the upstream connection against its project's cap until this body is
    /// dropped.
    Upstream(
        super::h1::ResponseBody,
        #[allow(dead_code)] // Held, never read: dropping it frees the project's slot.
        super::caps::Lease,
    ),
    Other(UnsyncBoxBody<Bytes, BoxError>),
}

impl ProxyBody {
    /// Boxes any body with the proxy's error type.
    pub(crate) fn other<B>(body: B) -> ProxyBody
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        use http_body_util::BodyExt;
        ProxyBody::Other(body.map_err(Into::into).boxed_unsync())
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ProxyBody::Upstream(b, _) => Pin::new(b).poll_frame(cx).map_err(BoxError::from),
            ProxyBody::Other(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Upstream(b, _) => b.is_end_stream(),
            ProxyBody::Other(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Upstream(b, _) => b.size_hint(),
            ProxyBody::Other(b) => b.size_hint(),
        }
    }
}
