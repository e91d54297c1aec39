//! A buffered HTTP/1.1 connection over any `AsyncRead + AsyncWrite`.
//!
//! Bytes are read into one buffer; a head or body takes what it needs and
//! leaves the rest, which is how pipelined requests survive: the bytes of
//! the next request are already in the buffer when this one is answered.
//! Timeouts are the caller's, because each layer has its own (nginx's
//! `client_header_timeout` is not gunicorn's `timeout`).

use std::io;
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::chunked::{ChunkedDecoder, ChunkedError};
use super::framing::ResponseFraming;
use super::parse::Parsed;

/// How much is read from the socket at a time, unless the connection says
/// otherwise ([`HttpConn::with_read_chunk`]). gunicorn's sync worker reads
/// 8192 bytes at a time too (`http/unreader.py`, `SocketUnreader`).
pub const READ_CHUNK: usize = 8 * 1024;

#[derive(Debug, Error)]
pub enum ReadError<E> {
    #[error("connection closed before anything was sent")]
    ClosedIdle,
    #[error("connection closed in the middle of a message")]
    ClosedEarly,
    #[error("no data within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Parse(E),
    #[error(transparent)]
    Chunked(ChunkedError),
    #[error("the body is larger than {0} bytes")]
    TooLarge(u64),
    #[error(transparent)]
    Io(#[from] io::Error),
}

pub struct HttpConn<S> {
    io: S,
    /// Read buffer. Its bytes stay initialized once written, so a read
    /// does not zero its chunk first; only `buf[start..end]` is data.
    buf: Vec<u8>,
    /// Bytes of `buf` before this index were consumed.
    start: usize,
    /// Bytes of `buf` from this index on hold nothing received.
    end: usize,
    /// Most bytes one read takes from the socket.
    read_chunk: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> HttpConn<S> {
    pub fn new(io: S) -> HttpConn<S> {
        HttpConn::with_read_chunk(io, READ_CHUNK)
    }

    /// A connection that reads at most `read_chunk` bytes at a time. How
    /// much one read takes matters to a limit checked between reads, such
    /// as h11's on an incomplete head.
    pub fn with_read_chunk(io: S, read_chunk: usize) -> HttpConn<S> {
        HttpConn {
            io,
            buf: Vec::new(),
            start: 0,
            end: 0,
            read_chunk: read_chunk.max(1),
        }
    }

    /// Read at most `read_chunk` bytes at a time from now on, and give back
    /// what a larger chunk took: for a connection that becomes long-lived
    /// (a websocket), whose reads wait far longer than a request's.
    pub fn set_read_chunk(&mut self, read_chunk: usize) {
        self.read_chunk = read_chunk.max(1);
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        self.buf.truncate(self.end);
        self.buf.shrink_to_fit();
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Bytes received but not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Read more bytes (at most the read chunk); `Ok(0)` means the peer closed.
    pub async fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.start * 2 > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let want = self.end + self.read_chunk;
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        let n = self.io.read(&mut self.buf[self.end..want]).await?;
        self.end += n;
        Ok(n)
    }

    async fn fill_within(&mut self, gap: Option<Duration>) -> Result<usize, ReadError<()>> {
        match gap {
            Some(d) => match tokio::time::timeout(d, self.fill()).await {
                Ok(r) => Ok(r?),
                Err(_) => Err(ReadError::Timeout(d)),
            },
            None => Ok(self.fill().await?),
        }
    }

    /// Read until `parse` finds a complete head. Returns the head and its
    /// raw bytes (for the trace).
    pub async fn read_head<T, E>(
        &mut self,
        parse: impl Fn(&[u8]) -> Result<Parsed<T>, E>,
    ) -> Result<(T, Vec<u8>), ReadError<E>> {
        loop {
            if !self.buffered().is_empty() {
                match parse(self.buffered()) {
                    Ok(Parsed::Complete { head, consumed }) => {
                        let raw = self.buffered()[..consumed].to_vec();
                        self.consume(consumed);
                        return Ok((head, raw));
                    }
                    Ok(Parsed::Partial) => {}
                    Err(e) => return Err(ReadError::Parse(e)),
                }
            }
            let was_empty = self.buffered().is_empty();
            if self.fill().await? == 0 {
                return Err(if was_empty {
                    ReadError::ClosedIdle
                } else {
                    ReadError::ClosedEarly
                });
            }
        }
    }

    /// Wait until at least one byte is buffered (or the peer closes).
    pub async fn wait_for_data(&mut self) -> io::Result<bool> {
        if !self.buffered().is_empty() {
            return Ok(true);
        }
        Ok(self.fill().await? > 0)
    }

    /// Read exactly `len` body bytes; `gap` bounds the wait between reads.
    pub async fn read_body_exact(
        &mut self,
        len: u64,
        gap: Option<Duration>,
    ) -> Result<Vec<u8>, ReadError<()>> {
        let len = usize::try_from(len).map_err(|_| ReadError::ClosedEarly)?;
        while self.buffered().len() < len {
            if self.fill_within(gap).await? == 0 {
                return Err(ReadError::ClosedEarly);
            }
        }
        let body = self.buffered()[..len].to_vec();
        self.consume(len);
        Ok(body)
    }

    /// Read a chunked body, decoding as it arrives; returns the body and
    /// how many bytes it took on the wire.
    pub async fn read_body_chunked(
        &mut self,
        max_body: u64,
        gap: Option<Duration>,
    ) -> Result<(Vec<u8>, usize), ReadError<()>> {
        self.read_chunked(max_body, gap, None).await
    }

    /// The chunked reader: decodes as bytes arrive, counts them, and
    /// keeps a copy of them in `raw` when asked.
    async fn read_chunked(
        &mut self,
        max_body: u64,
        gap: Option<Duration>,
        mut raw: Option<&mut Vec<u8>>,
    ) -> Result<(Vec<u8>, usize), ReadError<()>> {
        let mut decoder = ChunkedDecoder::new(max_body);
        let mut wire = 0;
        loop {
            let used = decoder.feed(self.buffered()).map_err(ReadError::Chunked)?;
            if let Some(raw) = raw.as_deref_mut() {
                raw.extend_from_slice(&self.buffered()[..used]);
            }
            self.consume(used);
            wire += used;
            if decoder.is_done() {
                return Ok((decoder.into_body(), wire));
            }
            if self.fill_within(gap).await? == 0 {
                return Err(ReadError::ClosedEarly);
            }
        }
    }

    /// Read a response body framed as `framing`.
    pub async fn read_response_body(
        &mut self,
        framing: ResponseFraming,
        max_body: u64,
        gap: Option<Duration>,
    ) -> Result<Vec<u8>, ReadError<()>> {
        match framing {
            ResponseFraming::Empty => Ok(Vec::new()),
            ResponseFraming::Length(n) if n > max_body => Err(ReadError::TooLarge(max_body)),
            ResponseFraming::Length(n) => self.read_body_exact(n, gap).await,
            ResponseFraming::Chunked => Ok(self.read_body_chunked(max_body, gap).await?.0),
            ResponseFraming::UntilClose => {
                while self.fill_within(gap).await? > 0 {
                    if self.buffered().len() as u64 > max_body {
                        return Err(ReadError::TooLarge(max_body));
                    }
                }
                let body = self.buffered().to_vec();
                self.consume(body.len());
                Ok(body)
            }
        }
    }

    /// Read a response body framed as `framing`, as a client that shows
    /// what it received: the decoded body, and the bytes that carried it
    /// on the wire (the same bytes, except for a chunked body, whose
    /// chunk sizes and last chunk are part of what arrived).
    pub async fn read_response_body_wire(
        &mut self,
        framing: ResponseFraming,
        max_body: u64,
        gap: Option<Duration>,
    ) -> Result<(Vec<u8>, Vec<u8>), ReadError<()>> {
        if !matches!(framing, ResponseFraming::Chunked) {
            let body = self.read_response_body(framing, max_body, gap).await?;
            return Ok((body.clone(), body));
        }
        let mut raw = Vec::new();
        let (body, _) = self.read_chunked(max_body, gap, Some(&mut raw)).await?;
        Ok((body, raw))
    }

    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    /// One write: as many of `bytes` as the peer's side takes now (a
    /// socket's buffer, a pipe's room), waiting only until it takes some.
    /// For a writer that times each write (nginx's `send_timeout`).
    pub async fn write_some(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.io.write(bytes).await
    }

    /// Push out what the stream itself still holds (a TLS record).
    pub async fn flush(&mut self) -> io::Result<()> {
        self.io.flush().await
    }

    /// Close our sending side (a FIN), so the peer reads the end.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.io.shutdown().await
    }
}

impl From<ReadError<()>> for ReadError<super::ParseError> {
    fn from(e: ReadError<()>) -> Self {
        match e {
            ReadError::ClosedIdle => ReadError::ClosedIdle,
            ReadError::ClosedEarly => ReadError::ClosedEarly,
            ReadError::Timeout(d) => ReadError::Timeout(d),
            ReadError::Parse(()) => ReadError::ClosedEarly,
            ReadError::Chunked(c) => ReadError::Chunked(c),
            ReadError::TooLarge(n) => ReadError::TooLarge(n),
            ReadError::Io(e) => ReadError::Io(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_smaller_read_chunk_keeps_what_is_buffered_and_gives_back_the_rest() {
        let (mut client, server) = tokio::io::duplex(256 * 1024);
        let mut conn = HttpConn::with_read_chunk(server, 64 * 1024);
        client
            .write_all(b"GET / HTTP/1.1\r\n\r\nrest")
            .await
            .unwrap();
        conn.fill().await.unwrap();
        conn.consume(18);
        assert!(conn.buf.capacity() >= 64 * 1024);

        conn.set_read_chunk(8 * 1024);
        assert_eq!(conn.buffered(), b"rest");
        assert!(conn.buf.capacity() < 1024, "{}", conn.buf.capacity());

        client.write_all(&[b'x'; 20 * 1024]).await.unwrap();
        assert_eq!(conn.fill().await.unwrap(), 8 * 1024);
        assert_eq!(conn.buffered().len(), 4 + 8 * 1024);
        assert!(conn.buffered().starts_with(b"restx"));
    }
}
