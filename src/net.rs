//! Transports: the same layer code runs over real TCP (`serve`) or over
//! in-memory pipes (lessons). Everything above this module sees only a
//! [`Stream`] (`AsyncRead + AsyncWrite`), a [`Listener`] to accept from and a
//! [`Connector`] to dial.
//!
//! The in-memory listener is a bounded channel of pipe ends: its capacity
//! plays the part of the kernel's listen backlog.
//!
//! Book: "The journey of a request" (book/src/journey.md).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc};

/// How long an accept loop waits after a failed `accept()` (e.g. out of
/// file descriptors) before trying again, instead of spinning.
pub const ACCEPT_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(50);

/// Bytes a pipe holds before the writer has to wait, like a socket buffer.
pub const PIPE_BUFFER_BYTES: usize = 64 * 1024;

/// A connected byte stream.
pub enum Stream {
    Tcp(TcpStream),
    Memory(DuplexStream),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Memory(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Memory(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Memory(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Memory(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

type Pending = (DuplexStream, SocketAddr);

/// Where a server accepts connections from.
pub enum Listener {
    Tcp(TcpListener),
    Memory(mpsc::Receiver<Pending>),
}

impl Listener {
    /// The next connection and its peer address; `None` when an in-memory
    /// listener has no dialers left (the lesson is over).
    pub async fn accept(&mut self) -> io::Result<Option<(Stream, SocketAddr)>> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                // Small request/response exchanges: don't wait to fill packets.
                s.set_nodelay(true)?;
                Ok(Some((Stream::Tcp(s), peer)))
            }
            Listener::Memory(rx) => Ok(rx.recv().await.map(|(s, p)| (Stream::Memory(s), p))),
        }
    }
}

/// A listener shared by several accepting workers (gunicorn's pre-fork
/// model: every worker calls `accept()` on the same socket).
#[derive(Clone)]
pub struct SharedListener(Arc<Mutex<Listener>>);

impl SharedListener {
    pub fn new(listener: Listener) -> SharedListener {
        SharedListener(Arc::new(Mutex::new(listener)))
    }

    pub async fn accept(&self) -> io::Result<Option<(Stream, SocketAddr)>> {
        self.0.lock().await.accept().await
    }
}

/// How a client (or the web server's proxy) reaches a server.
#[derive(Clone)]
pub enum Connector {
    Tcp(SocketAddr),
    Memory(MemoryDialer),
}

impl Connector {
    pub async fn connect(&self) -> io::Result<Stream> {
        match self {
            Connector::Tcp(addr) => {
                let s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                Ok(Stream::Tcp(s))
            }
            Connector::Memory(d) => d.dial().await.map(Stream::Memory),
        }
    }

    /// The address this connector dials, as a string for the trace.
    pub fn describe(&self) -> String {
        match self {
            Connector::Tcp(addr) => addr.to_string(),
            Connector::Memory(d) => d.server_addr.to_string(),
        }
    }
}

/// The client end of an in-memory listener.
#[derive(Clone)]
pub struct MemoryDialer {
    tx: mpsc::Sender<Pending>,
    /// The address the "server" listens on (shown in traces).
    server_addr: SocketAddr,
    /// The address dialers appear to come from.
    client_ip: std::net::IpAddr,
    next_port: Arc<AtomicU16>,
}

impl MemoryDialer {
    /// Dial from the next ephemeral port of this dialer's address.
    pub async fn dial(&self) -> io::Result<DuplexStream> {
        let port = self.next_port.fetch_add(1, Ordering::Relaxed);
        self.dial_from(SocketAddr::new(self.client_ip, port)).await
    }

    /// Dial, appearing to come from `peer`.
    pub async fn dial_from(&self, peer: SocketAddr) -> io::Result<DuplexStream> {
        let (client, server) = tokio::io::duplex(PIPE_BUFFER_BYTES);
        self.tx
            .send((server, peer))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::ConnectionRefused, "listener closed"))?;
        Ok(client)
    }
}

/// An in-memory listener on `server_addr` with room for `backlog` pending
/// connections; dialers appear to come from `client_ip`.
pub fn memory_listener(
    server_addr: SocketAddr,
    client_ip: std::net::IpAddr,
    backlog: usize,
) -> (MemoryDialer, Listener) {
    let (tx, rx) = mpsc::channel(backlog.max(1));
    let dialer = MemoryDialer {
        tx,
        server_addr,
        client_ip,
        next_port: Arc::new(AtomicU16::new(50001)),
    };
    (dialer, Listener::Memory(rx))
}
