//! The HTTP server loop: the router on hyper's HTTP/1.1 connections, with the limits
//! `axum::serve` leaves out. `axum::serve` installs no timer, so hyper's deadline for
//! reading a request's head never fires there: a client sending its headers a byte at a
//! time would hold a connection (and its buffer) for ever. Here each head must arrive
//! within `server.header_read_timeout_ms`, a head larger than [`MAX_HEAD_BYTES`] is
//! refused (431), a connection whose client stops reading (an SSE subscriber that never
//! reads) is closed once a write has waited `server.write_timeout_ms` (while one that
//! reads slowly is not: the kernel holds little unsent for it), and a failed
//! `accept` (out of file descriptors) waits and goes on instead of ending the server.
//! A connection the server closes lingers (`linger.rs`): its client reads the last
//! answer (a 413 for a body still arriving) before the socket goes. At most
//! [`Limits::connections`] are open at once: the next waits in the listen queue, so
//! that idle or slow clients cannot take the descriptors the stores open files with
//! (SQLite's lock files) and turn commands into 503s.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;

use crate::linger::Lingering;

/// The read buffer a connection may grow to while its request's line and headers
/// arrive: past it hyper answers 431. (It checks as it reads, so a head of up to about
/// twice this may pass; one of 64 KiB never does.) nginx allows 4 × 8 KiB by default.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// How many bytes the kernel may hold for a client that it has not yet sent
/// (`TCP_NOTSENT_LOWAT`): past it a write waits until the client has taken more.
pub const MAX_UNSENT_BYTES: u32 = 16 * 1024;

/// How long open connections get to finish their requests after the shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

/// Descriptors kept for the stores, pools, lock files and the listener, below the
/// open-file limit, when the connections are bounded to fit it.
const RESERVED_FILES: u64 = 256;

/// What a connection may take: how long to send a request's head and to take an
/// answer's bytes, and how many may be open at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request's line and headers must arrive within this.
    pub head: Duration,
    /// A write that waits this long (the client reads nothing) closes the connection.
    pub write: Duration,
    /// Connections open at once; the next is accepted when one closes.
    pub connections: usize,
}

/// Raises the open-file limit to the most the system allows this process (systemd
/// starts services at 1,024) and bounds `wanted` connections to fit under it with
/// [`RESERVED_FILES`] and `pool` (the store's connections) to spare, or half of it when
/// the limit is smaller than twice that; never past what a semaphore holds.
pub fn connections_within_file_limit(wanted: u64, pool: u64) -> usize {
    let wanted = wanted.min(Semaphore::MAX_PERMITS as u64);
    let files = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(files) => files,
        Err(e) => {
            tracing::warn!(error = %e, "the open-file limit could not be read or raised");
            return usize::try_from(wanted).unwrap_or(Semaphore::MAX_PERMITS);
        }
    };
    let reserved = RESERVED_FILES.saturating_add(pool);
    let room = match files.checked_sub(reserved) {
        Some(room) if room >= reserved => room,
        _ => files / 2,
    };
    let bound = wanted.min(room.max(1));
    if bound < wanted {
        tracing::warn!(
            open_file_limit = files,
            connections = bound,
            "server.max_connections lowered to fit the open-file limit"
        );
    }
    usize::try_from(bound).unwrap_or(Semaphore::MAX_PERMITS)
}

/// The connection bound for these settings: `server.max_connections` fitted under the
/// open-file limit beside the store's pool. A live stream holds its connection for
/// its whole life, so a bound at or under `server.max_live_streams` lets subscribers
/// take every connection (health checks then wait in the queue): warned of.
pub fn connections_for(settings: &crate::Settings) -> usize {
    let pool = match settings.storage.url.expose().starts_with("postgres") {
        true => u64::from(settings.storage.max_connections),
        false => 0,
    };
    let bound = connections_within_file_limit(settings.server.max_connections, pool);
    if settings.server.max_live_streams >= bound as u64 {
        tracing::warn!(
            connections = bound,
            live_streams = settings.server.max_live_streams,
            "server.max_live_streams is not below the connection bound: live streams can \
             hold every connection; lower it, or raise the open-file limit"
        );
    }
    bound
}

/// A socket bound to `address` (the first address it resolves to), not yet listening.
pub fn bind(address: &str) -> std::io::Result<TcpSocket> {
    let addr = std::net::ToSocketAddrs::to_socket_addrs(address)?
        .next()
        .ok_or_else(|| std::io::Error::other("the address resolves to nothing"))?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As a listener bound the usual way: a restart need not wait out TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open
/// connections finish (at most [`DRAIN`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.head)
        .max_buf_size(MAX_HEAD_BYTES);
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.connections));
    tokio::pin!(shutdown);
    loop {
        // A connection slot first: at the bound, clients wait in the listen queue.
        let slot = tokio::select! {
            slot = open.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // EMFILE and the like: connections are being refused meanwhile;
                    // give open ones a moment to close rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers go out as soon as they are written (no Nagle delay waiting on the
        // client's acknowledgement when an answer spans more than one write).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY refused on a connection");
        }
        unsent_bound(&tcp);
        // No read deadline: a live stream's client sends nothing after its request.
        let mut io = TimeoutStream::new(tcp);
        io.set_write_timeout(Some(limits.write));
        let service = TowerToHyperService::new(router.clone());
        let io = TokioIo::new(Lingering::new(Box::pin(io)));
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown drain; closing them");
    }
}

/// Bounds what the kernel buffers unsent for this connection. Otherwise the send
/// buffer grows to megabytes for a client that reads steadily but slower than a live
/// feed grows, and the next write waits until half of it has drained: past
/// `server.write_timeout_ms` for such a reader, which was then cut off in the middle
/// of an event instead of being told, in the stream, that it fell too far behind.
/// Bounded, each write waits only for the client's next reads, so the write timeout
/// closes only a client that stops reading. (Linux only; elsewhere the kernel's own
/// buffering stands.)
#[cfg(any(target_os = "linux", target_os = "android"))]
fn unsent_bound(tcp: &tokio::net::TcpStream) {
    if let Err(e) = socket2::SockRef::from(tcp).set_tcp_notsent_lowat(MAX_UNSENT_BYTES) {
        tracing::debug!(error = %e, "TCP_NOTSENT_LOWAT refused on a connection");
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn unsent_bound(_tcp: &tokio::net::TcpStream) {}
