//! `Transfer-Encoding: chunked`, decoded incrementally from an upstream connection's read
//! buffer: chunk-size lines (extensions ignored), data, and the trailer section. Strict: a bare LF,
//! junk after a size, a size over 64 bits or a line or trailer section past its limit is an error,
//! and the connection is then never reused.

use bytes::{Buf, Bytes, BytesMut};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use super::ProtocolError;

/// A chunk-size line (with extensions) or a trailer section longer than this is refused.
pub(super) const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

/// What the chunked decoder found next.
#[derive(Debug, PartialEq)]
pub(crate) enum Chunk {
    Data(Bytes),
    /// The last chunk and its trailers (empty when there were none): the body is complete.
    End(HeaderMap),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk, this many bytes left.
    Data(u64),
    /// Expecting the CRLF that ends a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty line.
    Trailers,
}

/// Decodes `Transfer-Encoding: chunked` incrementally from a read buffer.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: ChunkState,
    trailers: HeaderMap,
    /// Bytes of trailer section seen, against [`MAX_TRAILERS`].
    trailer_bytes: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: ChunkState::Size,
            trailers: HeaderMap::new(),
            trailer_bytes: 0,
        }
    }
}

impl ChunkedDecoder {
    /// The next piece of the body from `buf`, consuming what it used. `Ok(None)`: read more.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Chunk>, ProtocolError> {
        loop {
            match self.state {
                ChunkState::Size => {
                    let Some(line) = take_line(buf, MAX_CHUNK_LINE)? else {
                        return Ok(None);
                    };
                    let size = parse_chunk_size(&line)?;
                    self.state = if size == 0 {
                        ChunkState::Trailers
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let data = buf.split_to(take).freeze();
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                    return Ok(Some(Chunk::Data(data)));
                }
                ChunkState::DataEnd => {
                    if buf.len() < 2 {
                        if buf.first().is_some_and(|b| *b != b'\r') {
                            return Err(ProtocolError::Chunk);
                        }
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(ProtocolError::Chunk);
                    }
                    buf.advance(2);
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    let Some(line) = take_line(buf, MAX_TRAILERS)? else {
                        return Ok(None);
                    };
                    if line.is_empty() {
                        self.state = ChunkState::Size;
                        return Ok(Some(Chunk::End(std::mem::take(&mut self.trailers))));
                    }
                    self.trailer_bytes += line.len() + 2;
                    if self.trailer_bytes > MAX_TRAILERS {
                        return Err(ProtocolError::Chunk);
                    }
                    let (name, value) = line
                        .iter()
                        .position(|b| *b == b':')
                        .map(|i| (&line[..i], line[i + 1..].trim_ascii()))
                        .ok_or(ProtocolError::Chunk)?;
                    let name = HeaderName::from_bytes(name).map_err(|_| ProtocolError::Chunk)?;
                    let value = HeaderValue::from_bytes(value).map_err(|_| ProtocolError::Chunk)?;
                    self.trailers.append(name, value);
                }
            }
        }
    }
}

/// A CRLF-terminated line from the front of `buf`, without the CRLF. A bare LF is an error.
fn take_line(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, ProtocolError> {
    match memchr::memchr(b'\n', buf) {
        None if buf.len() > max => Err(ProtocolError::Chunk),
        None => Ok(None),
        Some(i) if i == 0 || buf[i - 1] != b'\r' || i > max => Err(ProtocolError::Chunk),
        Some(i) => {
            let mut line = buf.split_to(i + 1);
            line.truncate(i - 1);
            Ok(Some(line))
        }
    }
}

/// `1a3f`, optionally followed by whitespace and `;extensions` (ignored).
fn parse_chunk_size(line: &[u8]) -> Result<u64, ProtocolError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 16 {
        return Err(ProtocolError::Chunk);
    }
    let rest = line[digits..].trim_ascii_start();
    if !(rest.is_empty() || rest[0] == b';') {
        return Err(ProtocolError::Chunk);
    }
    let hex = std::str::from_utf8(&line[..digits]).map_err(|_| ProtocolError::Chunk)?;
    u64::from_str_radix(hex, 16).map_err(|_| ProtocolError::Chunk)
}
