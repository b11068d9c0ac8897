//! A TCP proxy between the application and a server that a test can cut (every
//! connection dropped), restore, or turn into a black hole: the answers on its
//! connections stop arriving while the connections stay open, as a server host gone
//! without a reset, or a NAT or firewall that forgot the flow, leaves them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// See the module's documentation.
pub struct Proxy {
    /// The local port the proxy listens on.
    pub port: u16,
    upstream: String,
    task: Option<tokio::task::JoinHandle<()>>,
    black_hole: Arc<AtomicBool>,
}

impl Proxy {
    /// Proxies a fresh local port to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let mut p = Self {
            port: 0,
            upstream: upstream.to_owned(),
            task: None,
            black_hole: Arc::default(),
        };
        p.listen().await;
        p
    }

    async fn listen(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind proxy");
        self.port = listener.local_addr().expect("addr").port();
        let upstream = self.upstream.clone();
        let black_hole = self.black_hole.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let black_hole = black_hole.clone();
                conns.spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, black_hole).await;
                    }
                });
            }
        }));
    }

    /// Stops listening and drops every proxied connection.
    pub fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) {
        self.listen().await;
    }

    /// From now on, a connection with an answer to pass on swallows it and everything
    /// after it in both directions, and stays open, until the proxy is dropped or cut
    /// (the client's own close still reaches the server).
    pub fn black_hole(&self) {
        self.black_hole.store(true, Ordering::SeqCst);
    }

    /// Answers pass again on connections that have not swallowed one; those that
    /// have stay black holes.
    pub fn forward(&self) {
        self.black_hole.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Copies both ways until the client closes; see [`Proxy::black_hole`].
async fn relay(client: TcpStream, server: TcpStream, black_hole: Arc<AtomicBool>) {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let lost = Arc::new(AtomicBool::new(false));
    let requests = {
        let lost = lost.clone();
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n @ 1..) = from_client.read(&mut buf).await {
                if !lost.load(Ordering::SeqCst) && to_server.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = to_server.shutdown().await;
        }
    };
    let answers = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = from_server.read(&mut buf).await {
            if black_hole.load(Ordering::SeqCst) {
                lost.store(true, Ordering::SeqCst);
            }
            if !lost.load(Ordering::SeqCst) && to_client.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
        if lost.load(Ordering::SeqCst) {
            // A black hole never closes: the client waits for an answer that never comes.
            std::future::pending::<()>().await;
        }
        let _ = to_client.shutdown().await;
    };
    tokio::join!(requests, answers);
}
