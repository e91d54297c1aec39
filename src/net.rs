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
use tokio::sync::{Mutex, mpsc, watch};

use crate::trace::emit::Step;
use crate::trace::{Decision, Direction, Failure, Kind, QueueChange, StateChange, StepId, Verdict};

/// How long an accept loop waits after a failed `accept()` (e.g. out of
/// file descriptors) before trying again, instead of spinning.
pub const ACCEPT_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(50);

/// Bytes a pipe holds before the writer has to wait, like a socket buffer.
pub const PIPE_BUFFER_BYTES: usize = 64 * 1024;

/// A connected byte stream.
pub enum Stream {
    Tcp(TcpStream),
    Memory(DuplexStream),
    /// A TLS session over one of the others (the web server's end after
    /// termination, or a lesson client's): reads and writes are plaintext.
    Tls(Box<TlsConn>),
}

/// A TLS session and what the connection needs to know about it.
pub struct TlsConn {
    pub session: tokio_rustls::TlsStream<crate::tls::wire::Wire>,
    /// The ciphertext's byte counts.
    pub counts: Arc<crate::tls::wire::Counts>,
    /// Header fields added to every response sent on this connection
    /// (`add_header … always` in the TLS server: HSTS).
    pub add_header: Vec<(String, String)>,
}

impl Stream {
    /// The TLS session's side of things, when this stream is one.
    pub fn tls(&self) -> Option<&TlsConn> {
        match self {
            Stream::Tls(t) => Some(t),
            _ => None,
        }
    }
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
            Stream::Tls(s) => Pin::new(&mut s.session).poll_read(cx, buf),
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
            Stream::Tls(s) => Pin::new(&mut s.session).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Memory(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(&mut s.session).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Memory(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(&mut s.session).poll_shutdown(cx),
        }
    }
}

type Pending = (DuplexStream, SocketAddr);

/// A connection taken from a listener, with the facts the trace needs to
/// link its two ends.
pub struct Accepted {
    pub stream: Stream,
    /// The connecting side's address.
    pub peer: SocketAddr,
    /// The address it was accepted on.
    pub local: SocketAddr,
    /// Connections still waiting in the backlog after this one was taken,
    /// when that can be seen (an in-memory listener; a kernel's queue cannot
    /// be read from user space).
    pub backlog_len: Option<u64>,
    /// How many connections the backlog holds.
    pub backlog_capacity: u64,
}

enum Source {
    Tcp(TcpListener),
    Memory(mpsc::Receiver<Pending>),
    /// Stopped: the socket is closed, new connections are refused.
    Closed,
}

/// Where a server accepts connections from.
pub struct Listener {
    source: Source,
    local: SocketAddr,
    capacity: u64,
    /// Set by [`Listener::stop_on`]: when it turns true, accept returns None.
    stop: Option<watch::Receiver<bool>>,
}

impl Listener {
    /// A real listening socket. `backlog` is the queue length the trace
    /// reports (what `listen()` was asked for).
    pub fn tcp(listener: TcpListener, backlog: usize) -> io::Result<Listener> {
        Ok(Listener {
            local: listener.local_addr()?,
            source: Source::Tcp(listener),
            capacity: backlog as u64,
            stop: None,
        })
    }

    /// Stop accepting when `stop` turns true (a graceful shutdown): accept
    /// then returns None, as if the listener had closed, and the socket is
    /// closed so new connections are refused. The accept loops already end
    /// on None and wait for the connections they have.
    pub fn stop_on(mut self, stop: watch::Receiver<bool>) -> Listener {
        self.stop = Some(stop);
        self
    }

    /// The address this listener accepts on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The next connection; `None` when an in-memory listener has no
    /// dialers left (the lesson is over).
    pub async fn accept(&mut self) -> io::Result<Option<Accepted>> {
        let (local, capacity) = (self.local, self.capacity);
        let Some(stop) = self.stop.as_mut() else {
            return next_from(&mut self.source, local, capacity).await;
        };
        let accepted = tokio::select! {
            biased;
            () = stopped(stop) => None,
            accepted = next_from(&mut self.source, local, capacity) => Some(accepted),
        };
        accepted.unwrap_or_else(|| {
            self.source = Source::Closed;
            Ok(None)
        })
    }
}

/// Resolves when `stop` turns true; never, if its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The next connection from `source`.
async fn next_from(
    source: &mut Source,
    local: SocketAddr,
    capacity: u64,
) -> io::Result<Option<Accepted>> {
    let (stream, peer, backlog_len) = match source {
        Source::Tcp(l) => {
            let (s, peer) = l.accept().await?;
            // Small request/response exchanges: don't wait to fill packets.
            s.set_nodelay(true)?;
            (Stream::Tcp(s), peer, None)
        }
        Source::Memory(rx) => match rx.recv().await {
            Some((s, p)) => (Stream::Memory(s), p, Some(rx.len() as u64)),
            None => return Ok(None),
        },
        Source::Closed => return Ok(None),
    };
    Ok(Some(Accepted {
        stream,
        peer,
        local,
        backlog_len,
        backlog_capacity: capacity,
    }))
}

/// A listener shared by several accepting workers (gunicorn's pre-fork
/// model: every worker calls `accept()` on the same socket).
#[derive(Clone)]
pub struct SharedListener(Arc<Mutex<Listener>>);

impl SharedListener {
    pub fn new(listener: Listener) -> SharedListener {
        SharedListener(Arc::new(Mutex::new(listener)))
    }

    pub async fn accept(&self) -> io::Result<Option<Accepted>> {
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
    /// Connect; returns the stream and the local address it was made from
    /// (the peer address the server will see).
    pub async fn connect(&self) -> io::Result<(Stream, SocketAddr)> {
        match self {
            Connector::Tcp(addr) => {
                let s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                let local = s.local_addr()?;
                Ok((Stream::Tcp(s), local))
            }
            Connector::Memory(d) => d.dial().await.map(|(s, a)| (Stream::Memory(s), a)),
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
    /// The listener's queue. Swapped by [`MemoryDialer::relisten`] when a
    /// stopped server listens again on the same address.
    tx: Arc<std::sync::Mutex<mpsc::Sender<Pending>>>,
    /// The address the "server" listens on (shown in traces).
    server_addr: SocketAddr,
    /// The address dialers appear to come from.
    client_ip: std::net::IpAddr,
    next_port: Arc<AtomicU16>,
    /// The step that records a connection joining this listener's backlog.
    backlog_step: StepId,
    capacity: u64,
}

impl MemoryDialer {
    /// Dial from the next ephemeral port of this dialer's address; returns
    /// the stream and that address.
    pub async fn dial(&self) -> io::Result<(DuplexStream, SocketAddr)> {
        self.dial_as(None).await
    }

    /// Dial from the next ephemeral port of `ip` (this dialer's address
    /// when `None`): a lesson's client that comes from another address.
    pub async fn dial_as(
        &self,
        ip: Option<std::net::IpAddr>,
    ) -> io::Result<(DuplexStream, SocketAddr)> {
        let port = self.next_port.fetch_add(1, Ordering::Relaxed);
        let from = SocketAddr::new(ip.unwrap_or(self.client_ip), port);
        self.dial_from(from).await.map(|s| (s, from))
    }

    /// Dial, appearing to come from `peer`, as Linux's TCP does with the
    /// default `net.ipv4.tcp_abort_on_overflow = 0`: the handshake
    /// completes and the connection waits in the accept queue until the
    /// server accepts it. When the queue is full the kernel drops the SYN
    /// without an answer (`tcp_conn_request`: "if (sk_acceptq_is_full(sk))
    /// goto drop"), so the client hears nothing and retransmits it after
    /// its retransmission timeout: 1 s (RFC 6298 §2.1, Linux's
    /// `TCP_TIMEOUT_INIT`), doubling each time, [`SYN_RETRIES`] times
    /// (`net.ipv4.tcp_syn_retries`); then connect() fails with ETIMEDOUT,
    /// 127 s after the first SYN. The client sees a slow connect, not a
    /// refusal. `tcp_abort_on_overflow = 1` changes only what happens to
    /// the handshake's last ACK when the queue filled up within one round
    /// trip after its SYN was answered (a RST instead of a dropped ACK);
    /// the pipes here have no round trip, so that case cannot arise.
    pub async fn dial_from(&self, peer: SocketAddr) -> io::Result<DuplexStream> {
        let (client, server) = tokio::io::duplex(PIPE_BUFFER_BYTES);
        let mut pending = (server, peer);
        let mut rto = SYN_RTO_INITIAL;
        let mut retries = 0u32;
        let mut tx = self.sender();
        loop {
            match tx.try_send(pending) {
                Ok(()) => break,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        "Connection refused: nothing listens there",
                    ));
                }
                Err(mpsc::error::TrySendError::Full(back)) => {
                    pending = back;
                    let gives_up = retries == SYN_RETRIES;
                    Step::new(full_step(self.backlog_step), Direction::Within, Kind::Error)
                        .summary(if gives_up {
                            format!(
                                "the accept queue of {} is still full ({} waiting, backlog {}): \
                                 the kernel drops the last retransmitted SYN from {peer}; the \
                                 client waits {} more, then connect() fails (ETIMEDOUT)",
                                self.server_addr,
                                self.capacity + 1,
                                self.capacity,
                                crate::units::Time(rto)
                            )
                        } else {
                            format!(
                                "the accept queue of {} is full ({} waiting, backlog {}): the \
                                 kernel drops the SYN from {peer} without an answer; the \
                                 client retransmits it in {} (tcp_abort_on_overflow = 0: no \
                                 refusal, a slow connect)",
                                self.server_addr,
                                self.capacity + 1,
                                self.capacity,
                                crate::units::Time(rto)
                            )
                        })
                        .knob("backlog", self.capacity)
                        .decision(
                            Decision::new(Verdict::Close)
                                .rule("Linux drops a SYN when the listen socket's accept queue is full")
                                .input("waiting", self.capacity + 1)
                                .input("SYNs sent", retries + 1)
                                .input("retransmits in", crate::units::Time(rto))
                                .knob("tcp_syn_retries", SYN_RETRIES),
                        )
                        .failure(Failure::TimedOut)
                        .emit();
                    tokio::time::sleep(rto).await;
                    if gives_up {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "connect() timed out: every SYN was dropped by a full accept queue",
                        ));
                    }
                    retries += 1;
                    rto *= 2;
                    // The server may have stopped or listened again meanwhile.
                    tx = self.sender();
                }
            }
        }
        let waiting = (tx.max_capacity() - tx.capacity()) as u64;
        Step::state_only(
            self.backlog_step,
            StateChange::Backlog {
                change: QueueChange::Enqueue,
                len: Some(waiting),
                capacity: self.capacity,
                peer: Some(peer.to_string()),
            },
        )
        .summary(format!(
            "the kernel completes the handshake from {peer}{} and queues the connection: \
             {waiting} of {} waiting to be accepted on {}",
            match retries {
                0 => String::new(),
                1 => " (after 1 retransmitted SYN)".to_string(),
                n => format!(" (after {n} retransmitted SYNs)"),
            },
            self.capacity,
            self.server_addr
        ))
        .emit();
        Ok(client)
    }
}

impl MemoryDialer {
    fn sender(&self) -> mpsc::Sender<Pending> {
        match self.tx.lock() {
            Ok(tx) => tx.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// What lets a stopped server on this dialer's address listen again,
    /// without keeping the address reachable: once every dialer is gone
    /// (the lesson is over), it cannot.
    pub fn relistener(&self) -> Relistener {
        Relistener {
            tx: Arc::downgrade(&self.tx),
            server_addr: self.server_addr,
            capacity: self.capacity,
        }
    }

    /// Dial from the same run of ephemeral ports as `other`: one proxy
    /// connecting to several servers takes its ports from one range, so no
    /// two of its connections have the same local address.
    pub fn sharing_ports_with(mut self, other: &MemoryDialer) -> MemoryDialer {
        self.next_port = other.next_port.clone();
        self
    }
}

/// A stopped in-memory server's address, ready to be listened on again.
pub struct Relistener {
    tx: std::sync::Weak<std::sync::Mutex<mpsc::Sender<Pending>>>,
    server_addr: SocketAddr,
    capacity: u64,
}

impl Relistener {
    /// A new listening socket on the address (its old one closed, so
    /// connects were refused): connects reach the new one from now on.
    /// None when nobody can dial the address any more.
    pub fn relisten(&self) -> Option<Listener> {
        let shared = self.tx.upgrade()?;
        let room = usize::try_from(self.capacity).unwrap_or(usize::MAX);
        let (tx, rx) = mpsc::channel(room.saturating_add(1));
        match shared.lock() {
            Ok(mut old) => *old = tx,
            Err(poisoned) => *poisoned.into_inner() = tx,
        }
        Some(Listener {
            source: Source::Memory(rx),
            local: self.server_addr,
            capacity: self.capacity,
            stop: None,
        })
    }
}

/// The step for a full accept queue of the listener whose backlog step is
/// `backlog_step`.
fn full_step(backlog_step: StepId) -> StepId {
    match backlog_step {
        StepId::WebServerBacklog => StepId::WebServerBacklogFull,
        _ => StepId::AppServerBacklogFull,
    }
}

/// A client's first retransmission timeout for a SYN (RFC 6298 §2.1:
/// 1 s; Linux `TCP_TIMEOUT_INIT`).
pub const SYN_RTO_INITIAL: std::time::Duration = std::time::Duration::from_secs(1);

/// How often a client retransmits an unanswered SYN before connect()
/// fails (Linux `net.ipv4.tcp_syn_retries`, default 6).
pub const SYN_RETRIES: u32 = 6;

/// An in-memory listener on `server_addr` with room for `backlog` pending
/// connections; dialers appear to come from `client`'s address, from its
/// port upwards (an ephemeral port per connection). `backlog_step` names
/// the layer whose listen queue it is.
pub fn memory_listener(
    server_addr: SocketAddr,
    client: SocketAddr,
    backlog: usize,
    backlog_step: StepId,
) -> (MemoryDialer, Listener) {
    // Linux's accept queue is full only past its backlog
    // (`sk_acceptq_is_full`: sk_ack_backlog > sk_max_ack_backlog), so it
    // holds backlog + 1 connections; listen(fd, 0) still queues one.
    let (tx, rx) = mpsc::channel(backlog.saturating_add(1));
    let dialer = MemoryDialer {
        tx: Arc::new(std::sync::Mutex::new(tx)),
        server_addr,
        client_ip: client.ip(),
        next_port: Arc::new(AtomicU16::new(client.port())),
        backlog_step,
        capacity: backlog as u64,
    };
    let listener = Listener {
        source: Source::Memory(rx),
        local: server_addr,
        capacity: backlog as u64,
        stop: None,
    };
    (dialer, listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn listener(backlog: usize) -> (MemoryDialer, Listener) {
        memory_listener(
            "127.0.0.1:8000".parse().expect("an address"),
            "127.0.0.1:40001".parse().expect("an address"),
            backlog,
            StepId::AppServerBacklog,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn an_accept_queue_holds_backlog_plus_one_as_linuxs_does() {
        let (dialer, _listener) = listener(2);
        for _ in 0..3 {
            let dialed = tokio::time::timeout(Duration::from_millis(1), dialer.dial()).await;
            assert!(matches!(dialed, Ok(Ok(_))));
        }
        // The fourth SYN is dropped: no answer within the first second.
        let dialed = tokio::time::timeout(Duration::from_millis(999), dialer.dial()).await;
        assert!(dialed.is_err(), "a full queue answered");
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_syn_is_retransmitted_after_1_s_then_2_s_and_gets_in_when_there_is_room() {
        let (dialer, mut listener) = listener(0);
        let _first = dialer.dial().await.expect("the queue holds one");
        let start = tokio::time::Instant::now();
        let second = tokio::spawn({
            let dialer = dialer.clone();
            async move { dialer.dial().await.map(|_| tokio::time::Instant::now()) }
        });
        // Room appears at 1.5 s: the SYN retransmitted at 1 s was dropped,
        // the one at 1 + 2 = 3 s gets in.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let _accepted = listener.accept().await.expect("accept");
        let connected = second.await.expect("joined").expect("connected");
        assert_eq!(connected - start, Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_queue_that_stays_full_fails_the_connect_with_etimedout_after_127_s() {
        let (dialer, _listener) = listener(0);
        let _first = dialer.dial().await.expect("the queue holds one");
        let start = tokio::time::Instant::now();
        let err = dialer.dial().await.expect_err("never gets in");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // 1 + 2 + 4 + 8 + 16 + 32 + 64: six retransmissions, then the wait
        // for the last one's answer.
        assert_eq!(start.elapsed(), Duration::from_secs(127));
    }
}
