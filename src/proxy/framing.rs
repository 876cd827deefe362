//! Spots request heads that carry both `Content-Length` and `Transfer-Encoding`, so the proxy can
//! refuse them with 400 as the issue asks.
//!
//! Why a wrapper around the client's socket: hyper resolves the conflict itself (RFC 9112 §6.3: it
//! drops `Content-Length`, reads the body as chunked and closes the connection afterwards), so by
//! the time the request reaches the handler the evidence is gone. [`HeadWatch`] looks at the bytes
//! as they are read, notes which of the two header names appear in a request head, and the
//! handler asks [`FramingFlags::take`] when a request arrives with `Transfer-Encoding`.
//!
//! The scan is cheap: `memchr` for line ends, one byte compared per line, and it stops at the
//! blank line ending a head, so request bodies are not scanned beyond the first read. After an
//! upgrade (WebSocket) the watch is switched off.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const CONTENT_LENGTH: u8 = 1;
const TRANSFER_ENCODING: u8 = 2;
/// Set once the connection is upgraded: no more HTTP heads will come.
const OFF: u8 = 4;

/// What the reads of one connection have shown since the last request was handled. Shared by the
/// socket wrapper (writer) and the request handler (reader), which run in the same task.
#[derive(Debug, Default)]
pub struct FramingFlags(AtomicU8);

impl FramingFlags {
    /// Whether the request just parsed had both headers in its head; resets for the next request.
    pub fn take_both(&self) -> bool {
        let seen = self.0.fetch_and(OFF, Ordering::Relaxed);
        seen & (CONTENT_LENGTH | TRANSFER_ENCODING) == CONTENT_LENGTH | TRANSFER_ENCODING
    }

    /// Stops scanning: the connection now carries another protocol.
    pub fn switch_off(&self) {
        self.0.fetch_or(OFF, Ordering::Relaxed);
    }

    fn note(&self, bytes: &[u8]) {
        if self.0.load(Ordering::Relaxed) & OFF != 0 {
            return;
        }
        let seen = scan(bytes);
        if seen != 0 {
            self.0.fetch_or(seen, Ordering::Relaxed);
        }
    }
}

/// Which of the two framing headers start a line in `bytes`, up to the first blank line.
fn scan(bytes: &[u8]) -> u8 {
    let mut seen = 0;
    for i in memchr::memchr_iter(b'\n', bytes) {
        let line = &bytes[i + 1..];
        match line.first() {
            // A blank line ends the head; what follows is a body.
            Some(b'\r' | b'\n') => break,
            Some(b'c' | b'C') if starts_with_ignore_case(line, b"content-length:") => {
                seen |= CONTENT_LENGTH;
            }
            Some(b't' | b'T') if starts_with_ignore_case(line, b"transfer-encoding:") => {
                seen |= TRANSFER_ENCODING;
            }
            _ => {}
        }
    }
    seen
}

fn starts_with_ignore_case(line: &[u8], name: &[u8]) -> bool {
    line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name)
}

/// The client's socket, with its reads noted in [`FramingFlags`]. Writes pass straight through.
pub struct HeadWatch<S> {
    inner: S,
    flags: Arc<FramingFlags>,
}

impl<S> HeadWatch<S> {
    pub fn new(inner: S, flags: Arc<FramingFlags>) -> HeadWatch<S> {
        HeadWatch { inner, flags }
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
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
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
        assert_eq!(scan(head), CONTENT_LENGTH | TRANSFER_ENCODING);
        let f = FramingFlags::default();
        f.note(head);
        assert!(f.take_both());
        assert!(!f.take_both(), "take resets for the next request");
    }

    #[test]
    fn a_head_split_over_two_reads_still_counts() {
        let f = FramingFlags::default();
        f.note(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n");
        f.note(b"X: y\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(f.take_both());
    }

    #[test]
    fn bodies_and_values_do_not_count() {
        // The names in a header value or after the blank line are not headers.
        let bytes = b"POST / HTTP/1.1\r\nX: content-length: 1\r\nContent-Length: 40\r\n\r\n\
                      \r\nTransfer-Encoding: chunked\r\n";
        assert_eq!(scan(bytes), CONTENT_LENGTH);
        // Only one of the two is an ordinary request.
        assert_eq!(
            scan(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            TRANSFER_ENCODING
        );
    }

    #[test]
    fn switched_off_after_an_upgrade() {
        let f = FramingFlags::default();
        f.switch_off();
        f.note(b"x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n");
        assert!(!f.take_both());
    }
}
