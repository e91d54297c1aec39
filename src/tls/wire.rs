//! The ciphertext side of a TLS connection: the transport under rustls,
//! counted.
//!
//! Above TLS the web server reads and writes plain HTTP; below it only
//! records travel, and their contents are random-looking by design. The
//! trace shows those as byte counts, never as bytes, so a lesson's trace is
//! the same on every run although every handshake draws fresh keys. The
//! wire also replays the ClientHello the server already read to look at it
//! (see [`super::client_hello`]), so rustls sees the connection from its
//! first byte, and notes the last plaintext alert it carried.
//!
//! Book: "The web server", section "TLS termination" (book/src/web-server.md).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::client_hello::CONTENT_ALERT;
use crate::net::Stream;

/// Byte counts of one connection's ciphertext, shared with whoever reports
/// them.
#[derive(Debug, Default)]
pub struct Counts {
    read: AtomicU64,
    written: AtomicU64,
    /// The description of the last plaintext alert record written or read
    /// (+1; 0 for none). Alerts sent after the keys are agreed are
    /// encrypted and cannot be seen here.
    alert_written: AtomicU64,
    alert_read: AtomicU64,
}

impl Counts {
    /// (read, written) so far.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.read.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
    }

    /// The last plaintext alert this end sent.
    pub fn alert_sent(&self) -> Option<u8> {
        alert(&self.alert_written)
    }

    /// The last plaintext alert the peer sent.
    pub fn alert_received(&self) -> Option<u8> {
        alert(&self.alert_read)
    }
}

fn alert(slot: &AtomicU64) -> Option<u8> {
    match slot.load(Ordering::Relaxed) {
        0 => None,
        n => u8::try_from(n - 1).ok(),
    }
}

/// An alert record in the clear: type 21, version 3.x, length 2, then
/// (level, description) (RFC 8446 §5.1, §6).
fn note_alert(bytes: &[u8], slot: &AtomicU64) {
    if let [CONTENT_ALERT, 3, _, 0, 2, _level, description, ..] = bytes {
        slot.store(u64::from(*description) + 1, Ordering::Relaxed);
    }
}

/// The transport under a TLS session.
pub struct Wire {
    inner: Stream,
    /// Bytes already read from `inner` that the TLS session reads first.
    replay: Vec<u8>,
    replayed: usize,
    counts: Arc<Counts>,
}

impl Wire {
    /// Wrap `inner`; `replay` is what was read from it already.
    pub fn new(inner: Stream, replay: Vec<u8>) -> Wire {
        Wire {
            inner,
            replay,
            replayed: 0,
            counts: Arc::new(Counts::default()),
        }
    }

    /// The counts, to read while the wire is inside a TLS stream.
    pub fn counts(&self) -> Arc<Counts> {
        self.counts.clone()
    }
}

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.replayed < me.replay.len() {
            let rest = &me.replay[me.replayed..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            me.replayed += n;
            if me.replayed == me.replay.len() {
                me.replay = Vec::new();
                me.replayed = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut me.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let got = &buf.filled()[before..];
            note_alert(got, &me.counts.alert_read);
            me.counts
                .read
                .fetch_add(got.len() as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let polled = Pin::new(&mut me.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            note_alert(&buf[..n], &me.counts.alert_written);
            me.counts.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        polled
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_replayed_bytes_come_first_and_only_the_wire_bytes_are_counted() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut wire = Wire::new(Stream::Memory(a), b"hel".to_vec());
        let counts = wire.counts();
        b.write_all(b"lo").await.expect("write");
        let mut got = [0u8; 5];
        wire.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"hello");
        wire.write_all(&[21, 3, 3, 0, 2, 2, 70])
            .await
            .expect("write");
        assert_eq!(counts.totals(), (2, 7));
        assert_eq!(counts.alert_sent(), Some(70));
        assert_eq!(counts.alert_received(), None);
    }
}
