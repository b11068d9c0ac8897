//! HTTP load: N clients for a duration, latencies and statuses recorded.
//!
//! Each client is one keep-alive HTTP/1.1 connection driven by hyper's bare client
//! (no pool, no redirects, no JSON layer): the load generator shares the machine
//! with the server and the database, so it should cost as little as wrk does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// What a scenario measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Requests answered.
    pub requests: usize,
    /// Seconds the load ran.
    pub seconds: f64,
    /// Latencies, sorted.
    pub latencies: Vec<Duration>,
    /// Answers by status (0: the connection failed).
    pub statuses: BTreeMap<u16, usize>,
}

impl Outcome {
    /// Requests per second.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// A latency percentile in milliseconds.
    pub fn pct(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }
}

/// A request a client sends: (path, body) from the client index and iteration.
pub type Make = Arc<dyn Fn(usize, usize) -> (String, Value) + Send + Sync>;

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: &str) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn send(sender: &mut Sender, host: &str, path: &str, body: &Value) -> anyhow::Result<u16> {
    let request = Request::post(path)
        .header("host", host)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?;
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok(status)
}

/// Runs `clients` concurrent clients against `addr` (`host:port`) for `duration`, each
/// sending `make(client, i)`.
pub async fn run(addr: &str, clients: usize, duration: Duration, make: Make) -> Outcome {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (addr, make) = (addr.to_owned(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
            let mut sender = None;
            let mut i = 0;
            while Instant::now() < deadline {
                let (path, body) = make(c, i);
                i += 1;
                let t = Instant::now();
                if sender.is_none() {
                    sender = connect(&addr).await.ok();
                }
                let status = match sender.as_mut() {
                    Some(s) => match send(s, &addr, &path, &body).await {
                        Ok(status) => status,
                        Err(_) => {
                            sender = None;
                            0
                        }
                    },
                    None => 0,
                };
                lat.push(t.elapsed());
                *statuses.entry(status).or_default() += 1;
            }
            (lat, statuses)
        }));
    }
    let mut out = Outcome::default();
    for t in tasks {
        let (lat, statuses) = t.await.expect("client task");
        out.latencies.extend(lat);
        for (s, n) in statuses {
            *out.statuses.entry(s).or_default() += n;
        }
    }
    out.seconds = start.elapsed().as_secs_f64();
    out.requests = out.latencies.len();
    out.latencies.sort_unstable();
    out
}
