//! Spots request heads that carry both `Content-Length` and `Transfer-Encoding`, so the proxy can
//! refuse them with 400 as the issue asks.
//!
//! Why a wrapper around the client's socket: hyper resolves the conflict itself (RFC 9112 §6.3: it
//! drops `Content-Length`, reads the body as chunked and closes the connection afterwards), so by
//! the time the request reaches the handler the evidence is gone. [`HeadWatch`] looks at the bytes
//! as they are read, notes which of the two header names appear in a request head, and the
//! handler asks [`FramingFlags::take`] when a request arrives with `Transfer-Encoding`. Only
//! connections served by hyper need it: `visitor` leaves any head with Transfer-Encoding (or a
//! body) unread and hands the connection to hyper, wrapped in this watch, from that head on.
//!
//! The scan is cheap (`memchr` for line ends, one byte compared per line) and looks only at request
//! heads: it stops at the blank line that ends a head and starts again when the handler says the
//! request's body has been read ([`FramingFlags::resume`]), so bodies are never taken for headers.
//! Whether the next byte starts a line carries over from one read to the next, so a head split
//! across reads is still read as lines. After an upgrade (WebSocket) the watch is switched off. A
//! head it cannot see (pipelined behind a body in one read) is only not answered 400: hyper still
//! reads it as chunked and closes the connection, so nothing is smuggled either way.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const CONTENT_LENGTH: u8 = 1;
const TRANSFER_ENCODING: u8 = 2;
/// Set once the connection is upgraded: no more HTTP heads will come.
const OFF: u8 = 4;
/// A head ended; what follows is its body until the handler calls `resume`.
const IN_BODY: u8 = 8;
/// The last byte read was a line end: the next read starts a line.
const AT_LINE_START: u8 = 16;

/// What the reads of one connection have shown of the current request head. Shared by the socket
/// wrapper (writer) and the request handler (reader), which run in the same task.
#[derive(Debug, Default)]
pub(crate) struct FramingFlags(AtomicU8);

impl FramingFlags {
    /// Whether the request just parsed had both headers in its head; resets for the next head.
    pub(crate) fn take_both(&self) -> bool {
        let seen = self
            .0
            .fetch_and(!(CONTENT_LENGTH | TRANSFER_ENCODING), Ordering::Relaxed);
        seen & (CONTENT_LENGTH | TRANSFER_ENCODING) == CONTENT_LENGTH | TRANSFER_ENCODING
    }

    /// The current request's body has been read (or it had none): the next bytes are a head.
    pub(crate) fn resume(&self) {
        self.0.fetch_and(!IN_BODY, Ordering::Relaxed);
    }

    /// Stops scanning: the connection now carries another protocol.
    pub(crate) fn switch_off(&self) {
        self.0.fetch_or(OFF, Ordering::Relaxed);
    }

    fn note(&self, bytes: &[u8]) {
        let state = self.0.load(Ordering::Relaxed);
        if state & (OFF | IN_BODY) != 0 || bytes.is_empty() {
            return;
        }
        let (seen, head_ended) = scan(bytes, state & AT_LINE_START != 0);
        let mut next = state | seen;
        if head_ended {
            next |= IN_BODY;
        }
        if bytes.ends_with(b"\n") {
            next |= AT_LINE_START;
        } else {
            next &= !AT_LINE_START;
        }
        self.0.store(next, Ordering::Relaxed);
    }
}

/// Which of the two framing headers start a line in `bytes`, up to the blank line ending a head
/// (and whether it came). `at_line_start`: the first byte starts a line.
fn scan(bytes: &[u8], at_line_start: bool) -> (u8, bool) {
    let mut seen = 0;
    let starts = at_line_start
        .then_some(0)
        .into_iter()
        .chain(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1));
    for start in starts {
        let line = &bytes[start..];
        match line.first() {
            // A blank line ends the head; what follows is a body.
            Some(b'\r' | b'\n') => return (seen, true),
            Some(b'c' | b'C') if starts_with_ignore_case(line, b"content-length:") => {
                seen |= CONTENT_LENGTH;
            }
            Some(b't' | b'T') if starts_with_ignore_case(line, b"transfer-encoding:") => {
                seen |= TRANSFER_ENCODING;
            }
            _ => {}
        }
    }
    (seen, false)
}

fn starts_with_ignore_case(line: &[u8], name: &[u8]) -> bool {
    line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name)
}

/// The client's socket as hyper reads it: first the bytes `visitor` had already read off it
/// (`ahead`), then the socket itself, every read noted in [`FramingFlags`]. Writes pass straight
/// through.
pub(crate) struct HeadWatch<S> {
    inner: S,
    flags: Arc<FramingFlags>,
    ahead: Bytes,
}

impl<S> HeadWatch<S> {
    pub(crate) fn new(inner: S, flags: Arc<FramingFlags>, ahead: Bytes) -> HeadWatch<S> {
        HeadWatch {
            inner,
            flags,
            ahead,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadWatch<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = if this.ahead.is_empty() {
            Pin::new(&mut this.inner).poll_read(cx, buf)
        } else {
            let n = this.ahead.len().min(buf.remaining());
            buf.put_slice(&this.ahead.split_to(n));
            Poll::Ready(Ok(()))
        };
        if let Poll::Ready(Ok(())) = res {
            this.flags.note(&buf.filled()[before..]);
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadWatch<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_both_headers_in_a_head_in_any_case() {
        let head = b"POST / HTTP/1.1\r\nHost: x\r\ncontent-LENGTH: 4\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            scan(head, false),
            (CONTENT_LENGTH | TRANSFER_ENCODING, true)
        );
        let f = FramingFlags::default();
        f.note(head);
        assert!(f.take_both());
        assert!(!f.take_both(), "take resets for the next request");
    }

    #[test]
    fn a_head_split_over_reads_still_counts_even_at_a_line_boundary() {
        let f = FramingFlags::default();
        f.note(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n");
        f.note(b"Transfer-Encoding: chunked\r\n");
        f.note(b"\r\n");
        assert!(f.take_both());
    }

    #[test]
    fn bodies_and_values_do_not_count() {
        // The names in a header value or after the blank line are not headers.
        let bytes = b"POST / HTTP/1.1\r\nX: content-length: 1\r\nContent-Length: 40\r\n\r\n\
                      \r\nTransfer-Encoding: chunked\r\n";
        assert_eq!(scan(bytes, false), (CONTENT_LENGTH, true));
        assert_eq!(
            scan(
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                false
            ),
            (TRANSFER_ENCODING, true)
        );
    }

    #[test]
    fn a_body_read_later_is_not_scanned_until_resumed() {
        let f = FramingFlags::default();
        // An upload whose head ends with its own read, then body reads full of header-like lines.
        f.note(b"PUT /dump HTTP/1.1\r\nContent-Length: 60\r\n\r\n");
        assert!(!f.take_both());
        f.note(b"Transfer-Encoding: chunked\r\nContent-length: 3\r\n");
        f.note(b"\r\nContent-Length: 9\r\n");
        f.resume();
        // The next request is an ordinary chunked one: not refused.
        f.note(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(!f.take_both());
        // Had the body been scanned, this one would have been taken for CL+TE; a real one is.
        f.resume();
        f.note(b"POST /y HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n");
        assert!(f.take_both());
    }

    #[test]
    fn switched_off_after_an_upgrade() {
        let f = FramingFlags::default();
        f.switch_off();
        f.note(b"x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n");
        assert!(!f.take_both());
    }
}
