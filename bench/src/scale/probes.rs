//! The accounts the reads are timed on: 20 probe accounts with the same history at
//! every size of the store (200 deposits, then 20 transfers to the next probe), so a
//! read's latency at 10 M events is compared with the same read on the empty store.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::fill::post;

const PROBES: usize = 20;

/// The probes' instant for `?as_of=`: after their deposits, before their transfers.
pub(crate) struct Probes {
    as_of: String,
}

/// Opens and writes the probes.
pub(crate) async fn write(http: &reqwest::Client, base: &str) -> anyhow::Result<Probes> {
    for i in 0..PROBES {
        let mut ops = vec![
            json!({"op": "open_account", "account_id": format!("p-{i}"), "owner": "Probe", "currency": "USD"}),
        ];
        ops.extend(
            (0..200).map(
                |_| json!({"op": "deposit", "account_id": format!("p-{i}"), "amount": "1.00"}),
            ),
        );
        post(http, base, "/batches", &json!({"operations": ops})).await?;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let as_of = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 0..PROBES {
        let to = (i + 1) % PROBES;
        let ops: Vec<Value> = (0..20)
            .map(|_| json!({"op": "transfer", "from_account_id": format!("p-{i}"), "to_account_id": format!("p-{to}"), "amount": "0.50"}))
            .collect();
        post(http, base, "/batches", &json!({"operations": ops})).await?;
    }
    Ok(Probes { as_of })
}

/// The reads timed at each size.
const READS: [&str; 4] = [
    "GET /accounts/{id}",
    "GET /accounts/{id}?as_of=",
    "GET /audit?account_id=",
    "GET /transfers?account_id=",
];

/// The path of read `kind` (an index into [`READS`]) on probe `i`.
fn read_path(kind: usize, i: usize, probes: &Probes) -> String {
    match kind {
        0 => format!("/accounts/p-{i}"),
        1 => format!("/accounts/p-{i}?as_of={}", probes.as_of.replace('+', "%2B")),
        2 => format!("/audit?account_id=p-{i}&limit=50"),
        _ => format!("/transfers?account_id=p-{i}&limit=50"),
    }
}

/// One client sends each read over the probes for `secs`: (name, p50 in ms, requests).
pub(crate) async fn time_reads(
    base: &str,
    probes: &Probes,
    secs: Duration,
) -> anyhow::Result<Vec<(&'static str, f64, usize)>> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for (kind, name) in READS.into_iter().enumerate() {
        let mut latencies = Vec::new();
        let deadline = Instant::now() + secs;
        let mut i = 0;
        while Instant::now() < deadline {
            let started = Instant::now();
            let r = http
                .get(format!("{base}{}", read_path(kind, i % PROBES, probes)))
                .send()
                .await?;
            let status = r.status();
            let body = r.bytes().await?;
            latencies.push(started.elapsed());
            anyhow::ensure!(
                status.is_success(),
                "{name}: {status}: {}",
                String::from_utf8_lossy(&body)
            );
            i += 1;
        }
        latencies.sort_unstable();
        let p50 = latencies[latencies.len() / 2].as_secs_f64() * 1000.0;
        out.push((name, p50, latencies.len()));
    }
    Ok(out)
}
