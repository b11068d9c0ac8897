//! HTTP load: N clients for a duration, latencies and statuses recorded.
//!
//! Each client is one keep-alive HTTP/1.1 connection driven by hyper's bare client
//! (no pool, no redirects, no JSON layer), its I/O polled by the task that sends the
//! requests, bodies serialized before the clock starts: the load generator shares the
//! machine with the server and the database, so it should cost as little as wrk does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

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

    /// Adds another run of the same scenario.
    pub fn merge(&mut self, other: Outcome) {
        self.requests += other.requests;
        self.seconds += other.seconds;
        self.latencies.extend(other.latencies);
        self.latencies.sort_unstable();
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
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

/// Which of `accounts` accounts client `c` uses on its `i`-th request in the spread
/// (and which stream the floor's matching row goes to): the 32 clients start far apart
/// and step through all of them.
pub fn spread_account(c: usize, i: usize, accounts: usize) -> usize {
    (c * 7919 + i * 31) % accounts
}

/// A request a client sends: (path, JSON body) from the client index and iteration.
pub type Make = Arc<dyn Fn(usize, usize) -> (String, Bytes) + Send + Sync>;

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn send(
    sender: &mut Sender,
    host: &str,
    path: &str,
    body: Bytes,
    auth: Option<&str>,
) -> anyhow::Result<u16> {
    let mut request = Request::post(path)
        .header("host", host)
        .header("content-type", "application/json");
    if let Some(a) = auth {
        request = request.header("authorization", a);
    }
    let request = request.body(Full::new(body))?;
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok(status)
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, usize>,
}

impl Seen {
    fn record(&mut self, started: Instant, status: u16) {
        self.latencies.push(started.elapsed());
        *self.statuses.entry(status).or_default() += 1;
    }
}

/// One client: a keep-alive connection whose I/O is driven by the same task that sends
/// the requests (as wrk's event loop does), reconnecting after a failure.
async fn client(addr: &str, c: usize, deadline: Instant, make: &Make, auth: Option<&str>) -> Seen {
    let mut seen = Seen::default();
    let mut i = 0;
    while Instant::now() < deadline {
        let started = Instant::now();
        let connected = async {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            anyhow::Ok(hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?)
        };
        let Ok((mut sender, conn)) = connected.await else {
            seen.record(started, 0);
            continue;
        };
        let mut in_flight = Instant::now();
        let requests = async {
            while Instant::now() < deadline {
                let (path, body) = make(c, i);
                i += 1;
                in_flight = Instant::now();
                match send(&mut sender, addr, &path, body, auth).await {
                    Ok(status) => seen.record(in_flight, status),
                    Err(_) => return false,
                }
            }
            true
        };
        let finished = tokio::select! {
            finished = requests => finished,
            _ = conn => false,
        };
        if !finished {
            // The connection failed with a request in flight.
            seen.record(in_flight, 0);
        }
    }
    seen
}

/// Runs `clients` concurrent clients against `addr` (`host:port`) for `duration`, each
/// sending `make(client, i)`.
pub async fn run(addr: &str, clients: usize, duration: Duration, make: Make) -> Outcome {
    run_as(addr, clients, duration, make, Arc::new(Vec::new())).await
}

/// [`run`] with client `c` sending `Authorization: Bearer <tokens[c]>` (none when
/// `tokens` is empty).
pub async fn run_as(
    addr: &str,
    clients: usize,
    duration: Duration,
    make: Make,
    tokens: Arc<Vec<String>>,
) -> Outcome {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (addr, make, tokens) = (addr.to_owned(), make.clone(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            let auth = tokens.get(c).map(|t| format!("Bearer {t}"));
            client(&addr, c, deadline, &make, auth.as_deref()).await
        }));
    }
    let mut out = Outcome::default();
    for t in tasks {
        let seen = t.await.expect("client task");
        out.latencies.extend(seen.latencies);
        for (s, n) in seen.statuses {
            *out.statuses.entry(s).or_default() += n;
        }
    }
    out.seconds = start.elapsed().as_secs_f64();
    out.requests = out.latencies.len();
    out.latencies.sort_unstable();
    out
}
