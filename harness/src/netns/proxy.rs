//! Link latency without `sch_netem`: a small TCP delay proxy in each host namespace, placed on
//! the real path by an nftables `redirect` of the host's outgoing TCP connections to the other
//! hosts (see [`super::shape`]). It reads the connection's original destination
//! (`SO_ORIGINAL_DST`), connects there from the same namespace (marked with [`BYPASS_MARK`] so
//! the redirect lets it through; the peer sees the host's own address), and relays both
//! directions, holding each chunk until its send time plus the link's latency and a jitter
//! drawn per chunk. Chunks never overtake each other (a connection is an ordered stream).
//!
//! Every connection between two hosts crosses exactly one proxy, the one on the connecting
//! host, which delays each direction once: a round trip costs twice the link latency, as on a
//! wire. Node configs stay unchanged. UDP is not redirected: datagrams cross the link directly,
//! undelayed. The delays are read per chunk, so a link fault changes open connections too.
//!
//! Bounded: each direction holds at most [`CHUNKS_IN_FLIGHT`] chunks of at most [`CHUNK`]
//! bytes; a full queue stops reading from the sender (TCP's own back-pressure).
//!
//! Besides latency, each proxy carries Toxiproxy's connection toxics (`timeout`, `reset_peer`,
//! `slicer`, `limit_data`, `slow_close`) by destination, applied when a chunk is written (see
//! [`toxic`]).

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::enter;
use toxic::{End, OnConnection, Passed};
pub use toxic::{Toxic, ToxicId, Toxics};

pub mod toxic;

/// Largest chunk read and forwarded at once, bytes.
pub const CHUNK: usize = 16 * 1024;

/// Chunks a direction holds while they wait for their time: with [`CHUNK`], at most 1 MiB per
/// direction of a connection (enough for a 200 ms link at 40 Mbit/s before back-pressure).
pub const CHUNKS_IN_FLIGHT: usize = 64;

/// The packet mark of the proxy's own outgoing connections, which the redirect rule passes.
pub const BYPASS_MARK: u32 = 0x4f56;

/// A link's added latency, per direction.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Delay {
    /// Added to every chunk.
    pub latency: Duration,
    /// Each chunk gets a further offset drawn uniformly from ±jitter (never below zero).
    pub jitter: Duration,
}

impl Delay {
    /// One draw: latency ± jitter, at least zero.
    fn draw(self) -> Duration {
        if self.jitter.is_zero() {
            return self.latency;
        }
        let offset = (rand::random::<f64>() * 2.0 - 1.0) * self.jitter.as_secs_f64();
        Duration::from_secs_f64((self.latency.as_secs_f64() + offset).max(0.0))
    }
}

/// The delays of one proxy by destination address; shared with whoever changes them (a link
/// fault), read per chunk.
#[derive(Clone, Debug, Default)]
pub struct Delays(Arc<RwLock<BTreeMap<Ipv4Addr, Delay>>>);

impl Delays {
    /// The delay towards `to` (zero when none is set).
    pub fn get(&self, to: Ipv4Addr) -> Delay {
        let table = self.0.read().unwrap_or_else(|p| p.into_inner());
        table.get(&to).copied().unwrap_or_default()
    }

    /// Sets the delay towards `to`.
    pub fn set(&self, to: Ipv4Addr, delay: Delay) {
        let mut table = self.0.write().unwrap_or_else(|p| p.into_inner());
        table.insert(to, delay);
    }
}

/// Where the proxy sends a connection.
#[derive(Clone, Debug)]
pub enum Upstream {
    /// Where it was going before the redirect, connected from inside this namespace.
    Original {
        /// The host namespace.
        namespace: String,
    },
    /// Always this address (tests).
    Fixed(SocketAddr),
}

/// A running proxy; stops (with every connection it relays) when dropped.
#[derive(Debug)]
pub struct Proxy {
    port: u16,
    delays: Delays,
    toxics: Toxics,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on 127.0.0.1 inside `namespace` (an ephemeral port) and relays to the original
    /// destinations. Needs a tokio runtime.
    pub fn start_in(namespace: &str, delays: Delays) -> io::Result<Proxy> {
        let listener = enter::in_namespace(namespace, || {
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        })?;
        let upstream = Upstream::Original {
            namespace: namespace.to_string(),
        };
        Proxy::start(listener, upstream, delays)
    }

    /// Relays the connections of `listener` to `upstream`. Needs a tokio runtime.
    pub fn start(
        listener: std::net::TcpListener,
        upstream: Upstream,
        delays: Delays,
    ) -> io::Result<Proxy> {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let port = listener.local_addr()?.port();
        let toxics = Toxics::default();
        let link = Link {
            delays: delays.clone(),
            toxics: toxics.clone(),
        };
        let task = tokio::spawn(accept_loop(listener, upstream, link));
        Ok(Proxy {
            port,
            delays,
            toxics,
            task,
        })
    }

    /// The port it listens on (127.0.0.1 in its namespace).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its delays, to change while it runs.
    pub fn delays(&self) -> &Delays {
        &self.delays
    }

    /// Its toxics, to change while it runs.
    pub fn toxics(&self) -> &Toxics {
        &self.toxics
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the proxy does to its connections, by destination.
#[derive(Clone, Debug)]
struct Link {
    delays: Delays,
    toxics: Toxics,
}

/// Accepts until aborted; each connection relayed by a task of its own, aborted with the loop.
async fn accept_loop(listener: TcpListener, upstream: Upstream, link: Link) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (client, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!("delay proxy: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let upstream = upstream.clone();
        let link = link.clone();
        connections.spawn(async move {
            if let Err(err) = relay(client, upstream, link).await {
                tracing::debug!("delay proxy: connection ended: {err}");
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

/// One connection: connect upstream, then both directions until both are done or a toxic
/// ends the connection (a reset closes both sockets with `SO_LINGER` 0).
async fn relay(mut client: TcpStream, upstream: Upstream, link: Link) -> io::Result<()> {
    let target = match &upstream {
        Upstream::Fixed(address) => *address,
        Upstream::Original { .. } => SocketAddr::V4(original_destination(&client)?),
    };
    let mut server = match upstream {
        Upstream::Fixed(address) => TcpStream::connect(address).await?,
        Upstream::Original { namespace } => connect_marked(&namespace, target).await?,
    };
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let to = match target {
        SocketAddr::V4(v4) => *v4.ip(),
        SocketAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    let toxics = link.toxics.on(to);
    let end = carry(&mut client, &mut server, &link.delays, to, toxics).await?;
    if end == End::Reset {
        client.set_zero_linger()?;
        server.set_zero_linger()?;
    }
    Ok(())
}

/// Both directions of a connection, on borrowed halves (so that nothing is shut down when they
/// are dropped: a reset must reach the peers without a close before it).
async fn carry(
    client: &mut TcpStream,
    server: &mut TcpStream,
    delays: &Delays,
    to: Ipv4Addr,
    toxics: OnConnection,
) -> io::Result<End> {
    let (client_read, client_write) = client.split();
    let (server_read, server_write) = server.split();
    let out = pump(client_read, server_write, delays, to, &toxics);
    let back = pump(server_read, client_write, delays, to, &toxics);
    let timeout = toxic::timeout(toxics.clone());
    tokio::pin!(out, back, timeout);
    let (mut out_done, mut back_done) = (false, false);
    loop {
        let end = tokio::select! {
            end = &mut out, if !out_done => { out_done = true; end? }
            end = &mut back, if !back_done => { back_done = true; end? }
            end = &mut timeout => end,
        };
        if end != End::Done || (out_done && back_done) {
            return Ok(end);
        }
    }
}

/// One direction: chunks read as they come, written at their time, in order, as the toxic in
/// force then says.
async fn pump(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    delays: &Delays,
    destination: Ipv4Addr,
    toxics: &OnConnection,
) -> io::Result<End> {
    let (queue, mut due) = mpsc::channel::<(Instant, Vec<u8>)>(CHUNKS_IN_FLIGHT);
    let reader = async move {
        let mut last = Instant::now();
        loop {
            let mut chunk = vec![0u8; CHUNK];
            let n = from.read(&mut chunk).await?;
            if n == 0 {
                return Ok::<(), io::Error>(());
            }
            chunk.truncate(n);
            let at = (Instant::now() + delays.get(destination).draw()).max(last);
            last = at;
            if queue.send((at, chunk)).await.is_err() {
                return Ok(());
            }
        }
    };
    let writer = async move {
        let mut passed = Passed::default();
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            let in_force = toxics.current();
            if let Some(end) = toxic::write_chunk(&mut to, &chunk, in_force, &mut passed).await? {
                return Ok(end);
            }
        }
        tokio::time::sleep(toxic::close_delay(toxics.current())).await;
        to.shutdown().await?;
        Ok(End::Done)
    };
    tokio::pin!(reader);
    // The writer ends once the reader has (its queue closed) or when a toxic ends the
    // connection; a read error ends the direction at once.
    tokio::select! {
        end = writer => end,
        Err(err) = &mut reader => Err(err),
    }
}

/// Where a redirected connection was going (`SO_ORIGINAL_DST`, from the connection tracker).
fn original_destination(stream: &TcpStream) -> io::Result<SocketAddrV4> {
    // SAFETY: sockaddr_in is plain data; zeroed is a valid value.
    let mut address: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `address`, a live sockaddr_in.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_IP,
            libc::SO_ORIGINAL_DST,
            (&mut address as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(address.sin_addr.s_addr)),
        u16::from_be(address.sin_port),
    ))
}

/// Connects to `target` from inside `namespace`, with the mark the redirect rule passes.
async fn connect_marked(namespace: &str, target: SocketAddr) -> io::Result<TcpStream> {
    let namespace = namespace.to_string();
    let fd = tokio::task::spawn_blocking(move || enter::in_namespace(&namespace, marked_socket))
        .await
        .map_err(io::Error::other)??;
    let stream = std::net::TcpStream::from(fd);
    stream.set_nonblocking(true)?;
    TcpSocket::from_std_stream(stream).connect(target).await
}

/// A TCP socket carrying [`BYPASS_MARK`], in the calling thread's namespace.
fn marked_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a socket just opened and owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mark = BYPASS_MARK;
    // SAFETY: setsockopt reads a u32 from a live local.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MARK,
            (&mark as *const u32).cast(),
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

#[cfg(test)]
mod tests;
