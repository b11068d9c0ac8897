//! HTTP load: N clients for a duration, latencies and statuses recorded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// Answers by status.
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

/// Runs `clients` concurrent clients for `duration`, each sending `make(client, i)`.
pub async fn run(base: &str, clients: usize, duration: Duration, make: Make) -> Outcome {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, base, make) = (http.clone(), base.to_owned(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
            let mut i = 0;
            while Instant::now() < deadline {
                let (path, body) = make(c, i);
                i += 1;
                let t = Instant::now();
                let status = match http.post(format!("{base}{path}")).json(&body).send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
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
