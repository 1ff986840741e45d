//! The listening socket and the connections it accepts: binding with clear errors, a cap on
//! open connections (new ones are closed at once when full), a backoff on accept errors
//! instead of a busy loop, and an idle timeout that closes connections whose peer sends
//! nothing (HTTP/2 keepalive pings, answered by every live client, count as traffic).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Backlog of the listening socket.
const BACKLOG: u32 = 1024;

/// File descriptors kept free for data files, peer connections and logs when the connection
/// cap is derived from the fd limit.
const FD_RESERVE: u64 = 512;

/// Longest pause between accept attempts after errors (e.g. out of file descriptors).
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Least time between two warnings about refused connections or accept errors.
const WARN_EVERY: Duration = Duration::from_secs(5);

/// Why the node cannot listen on its address.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The host name does not resolve.
    #[error(
        "cannot listen on {address} (process {id}): host '{host}' does not resolve ({source})"
    )]
    Unresolvable {
        /// `host:port`.
        address: String,
        /// The process.
        id: String,
        /// The host part.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// Binding failed, with the reason spelled out.
    #[error("cannot listen on {address} (process {id}): {why}")]
    Bind {
        /// `host:port` as resolved.
        address: String,
        /// The process.
        id: String,
        /// What the error means.
        why: String,
    },
}

/// The host and port to bind: the configured ones, or those of `--listen` (`HOST:PORT`,
/// `[V6]:PORT`, or a host alone, which keeps the configured port). A v6 host comes back in
/// brackets, ready for [`bind`].
pub fn listen_address(flag: Option<&str>, host: &str, port: u16) -> Result<(String, u16), String> {
    let Some(text) = flag.map(str::trim) else {
        return Ok((host.to_string(), port));
    };
    let bad = |why: &str| format!("--listen '{text}': {why}; expected HOST:PORT or HOST");
    if text.is_empty() {
        return Err(bad("empty address"));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        let host = match addr {
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
        };
        return checked_port(addr.port())
            .map(|port| (host, port))
            .map_err(|e| bad(&e));
    }
    if let Ok(std::net::IpAddr::V6(ip)) = text.trim_matches(['[', ']']).parse() {
        return Ok((format!("[{ip}]"), port));
    }
    match text.rsplit_once(':') {
        None => Ok((text.to_string(), port)),
        Some((name, digits)) if !name.is_empty() && !name.contains(':') => {
            let parsed = digits
                .parse::<u16>()
                .map_err(|_| format!("port '{digits}' is not a number in 1..=65535"));
            parsed
                .and_then(checked_port)
                .map(|port| (name.to_string(), port))
                .map_err(|e| bad(&e))
        }
        Some(_) => Err(bad("not an address")),
    }
}

fn checked_port(port: u16) -> Result<u16, String> {
    if port == 0 {
        return Err("port 0 would pick a port no peer knows".to_string());
    }
    Ok(port)
}

/// Binds `host:port` with `SO_REUSEADDR` (so a port in TIME-WAIT after a restart binds),
/// naming the address and the cause on failure: in use, not an address of this machine,
/// needing privileges, or a host that does not resolve.
pub async fn bind(host: &str, port: u16, id: &str) -> Result<TcpListener, BindError> {
    let address = format!("{host}:{port}");
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host(&address)
        .await
        .map_err(|source| BindError::Unresolvable {
            address: address.clone(),
            id: id.to_string(),
            host: host.to_string(),
            source,
        })?
        .collect();
    let mut last = None;
    for addr in resolved {
        match bind_one(addr) {
            Ok(listener) => return Ok(listener),
            Err(err) => last = Some((addr, err)),
        }
    }
    let (addr, err) = last.ok_or_else(|| BindError::Unresolvable {
        address: address.clone(),
        id: id.to_string(),
        host: host.to_string(),
        source: io::Error::other("no addresses"),
    })?;
    let why = match err.kind() {
        io::ErrorKind::AddrInUse => format!("port {port} is already in use on {}", addr.ip()),
        io::ErrorKind::AddrNotAvailable => {
            format!("{} is not an address of this machine", addr.ip())
        }
        io::ErrorKind::PermissionDenied => {
            format!("binding port {port} needs privileges ({err})")
        }
        _ => err.to_string(),
    };
    Err(BindError::Bind {
        address: addr.to_string(),
        id: id.to_string(),
        why,
    })
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Raises the soft limit on open files to the hard limit; returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read or write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
    }
    // rlim_t is u64 on Linux but not on every Unix.
    #[allow(clippy::unnecessary_cast)]
    let current = limit.rlim_cur as u64;
    current
}

/// The connection cap when none is configured: the fd limit less a reserve.
pub fn default_max_connections(fd_limit: u64) -> usize {
    fd_limit.saturating_sub(FD_RESERVE).clamp(64, 1_000_000) as usize
}

/// Limits on accepted connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Most connections open at once; further ones are closed as soon as accepted.
    pub max_connections: usize,
    /// A connection whose peer sends nothing for this long is closed.
    pub idle_timeout: Duration,
}

/// Accepted connections within `limits`, each with Nagle's algorithm off (small chunk answers
/// would otherwise wait ~40 ms for delayed ACKs). Never yields an error: accept errors are
/// logged and retried after a growing pause.
pub fn incoming(
    listener: TcpListener,
    limits: ConnectionLimits,
    id: String,
) -> impl tokio_stream::Stream<Item = io::Result<Guarded>> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let state = (listener, slots, Duration::ZERO, None::<Instant>, 0u64);
    futures::stream::unfold(
        state,
        move |(listener, slots, mut backoff, mut last_warn, mut refused)| {
            let id = id.clone();
            async move {
                loop {
                    let (stream, _) = match listener.accept().await {
                        Ok(accepted) => accepted,
                        Err(err) => {
                            backoff =
                                (backoff * 2).clamp(Duration::from_millis(5), MAX_ACCEPT_BACKOFF);
                            if warn_due(&mut last_warn) {
                                tracing::warn!(
                                    "[Server] {id} accept failed ({err}); retrying in {} ms",
                                    backoff.as_millis()
                                );
                            }
                            tokio::time::sleep(backoff).await;
                            continue;
                        }
                    };
                    backoff = Duration::ZERO;
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        refused += 1;
                        if warn_due(&mut last_warn) {
                            tracing::warn!("[Server] {id} has {} connections open, its cap; closing new ones ({refused} so far)", limits.max_connections);
                        }
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let guarded = Guarded::new(stream, permit, limits.idle_timeout);
                    return Some((Ok(guarded), (listener, slots, backoff, last_warn, refused)));
                }
            }
        },
    )
}

fn warn_due(last: &mut Option<Instant>) -> bool {
    let due = last.is_none_or(|at| at.elapsed() >= WARN_EVERY);
    if due {
        *last = Some(Instant::now());
    }
    due
}

/// An accepted connection holding its slot under the cap, closed when its peer stays silent
/// for the idle timeout.
#[derive(Debug)]
pub struct Guarded {
    inner: TcpStream,
    _slot: OwnedSemaphorePermit,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
}

impl Guarded {
    fn new(inner: TcpStream, slot: OwnedSemaphorePermit, idle_timeout: Duration) -> Self {
        Self {
            inner,
            _slot: slot,
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let next = tokio::time::Instant::now() + self.idle_timeout;
                    self.idle.as_mut().reset(next);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle past the idle timeout",
                ))),
                Poll::Pending => Poll::Pending,
            },
            ready => ready,
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl Connected for Guarded {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_address_keeps_or_replaces_the_configured_one() {
        let at = |flag| listen_address(flag, "192.168.1.2", 60051);
        assert_eq!(at(None), Ok(("192.168.1.2".into(), 60051)));
        assert_eq!(at(Some("0.0.0.0")), Ok(("0.0.0.0".into(), 60051)));
        assert_eq!(at(Some("0.0.0.0:7000")), Ok(("0.0.0.0".into(), 7000)));
        assert_eq!(at(Some("[::]:7000")), Ok(("[::]".into(), 7000)));
        assert_eq!(at(Some("::")), Ok(("[::]".into(), 60051)));
        assert_eq!(at(Some("localhost:7000")), Ok(("localhost".into(), 7000)));
        assert_eq!(at(Some("node-a")), Ok(("node-a".into(), 60051)));
        for bad in ["", "host:99999", "host:x", "0.0.0.0:0", ":7000"] {
            let err = at(Some(bad)).unwrap_err();
            assert!(err.starts_with(&format!("--listen '{bad}'")), "{err}");
        }
    }

    #[tokio::test]
    async fn bind_errors_name_the_address_and_the_cause() {
        let held = bind("127.0.0.1", 0, "A").await.expect("free port binds");
        let port = held.local_addr().unwrap().port();
        let err = bind("127.0.0.1", port, "A").await.unwrap_err().to_string();
        assert!(err.contains("already in use"), "{err}");
        let err = bind("192.0.2.1", port, "A").await.unwrap_err().to_string();
        assert!(err.contains("not an address of this machine"), "{err}");
        let err = bind("no-such-host.invalid", port, "A")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not resolve"), "{err}");
    }
}
