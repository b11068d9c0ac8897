//! Cold loads: the first command on an account after the server restarts, on long
//! accounts (many events, snapshots every 100) against fresh ones, interleaved.
//! Issue 22, part 1: the median long/fresh ratio of every round should be ≤ 1.2.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use ledger_postgres::testing::TestDatabase;
use serde_json::{json, Value};

use crate::server::{start_server, wait_up, BENCH_ADMIN_TOKEN};

/// Deposits per atomic batch while filling a long account.
const FILL_BATCH: usize = 1000;

struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(binary: &PathBuf, db: &TestDatabase, port: u16) -> anyhow::Result<Self> {
        // No projectors: after a restart nothing but the measured commands runs.
        let child = start_server(binary, &db.url, port, 16, false)?;
        let base = format!("http://127.0.0.1:{port}");
        wait_up(&reqwest::Client::new(), &base).await?;
        Ok(Self { child, base })
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> anyhow::Result<()> {
    let r = http
        .post(url)
        .bearer_auth(BENCH_ADMIN_TOKEN)
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(
        r.status().is_success(),
        "{}: {}",
        r.status(),
        r.text().await?
    );
    Ok(())
}

/// Opens `long-i` with `events` deposits (atomic batches, all accounts at once) and
/// `fresh-i` with one.
async fn fill(base: &str, accounts: usize, events: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for i in 0..accounts {
        for kind in ["long", "fresh"] {
            let body =
                json!({"account_id": format!("{kind}-{i}"), "owner": "cold", "currency": "USD"});
            post(&http, format!("{base}/accounts"), body).await?;
        }
        let deposit = json!({"amount": "0.01"});
        post(&http, format!("{base}/accounts/fresh-{i}/deposit"), deposit).await?;
    }
    let fills = (0..accounts).map(|i| {
        let (http, base) = (http.clone(), base.to_owned());
        async move {
            let op = json!({"op": "deposit", "account_id": format!("long-{i}"), "amount": "0.01"});
            for _ in 0..(events - 1).div_ceil(FILL_BATCH) {
                let body = json!({"operations": vec![op.clone(); FILL_BATCH]});
                post(&http, format!("{base}/batches"), body).await?;
            }
            anyhow::Ok(())
        }
    });
    for done in futures_util::future::join_all(fills).await {
        done?;
    }
    Ok(())
}

/// The time of one deposit on a fresh connection.
async fn first_deposit(base: &str, account: &str) -> anyhow::Result<Duration> {
    let http = reqwest::Client::new();
    let started = Instant::now();
    post(
        &http,
        format!("{base}/accounts/{account}/deposit"),
        json!({"amount": "0.01"}),
    )
    .await?;
    Ok(started.elapsed())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Fills, then `rounds` times: restart, and the first deposit on each long account
/// followed by the first on a fresh one.
pub(crate) async fn measure(
    binary: &PathBuf,
    accounts: usize,
    events: usize,
    rounds: usize,
) -> anyhow::Result<()> {
    let db = TestDatabase::create().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let server = Server::start(binary, &db, port).await?;
    let started = Instant::now();
    fill(&server.base, accounts, events).await?;
    println!(
        "(filled {accounts} accounts with {events} events each in {:.0} s)",
        started.elapsed().as_secs_f64()
    );
    server.stop();
    let mut medians = Vec::new();
    for round in 1..=rounds.max(1) {
        let server = Server::start(binary, &db, port).await?;
        let (mut long, mut fresh, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..accounts {
            let l = first_deposit(&server.base, &format!("long-{i}")).await?;
            let f = first_deposit(&server.base, &format!("fresh-{i}")).await?;
            long.push(l.as_secs_f64() * 1000.0);
            fresh.push(f.as_secs_f64() * 1000.0);
            ratios.push(l.as_secs_f64() / f.as_secs_f64());
        }
        let m = median(ratios.clone());
        let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "| round {round} | long {:.2} ms | fresh {:.2} ms | median long/fresh {m:.2} | pairs {} |",
            median(long),
            median(fresh),
            shown.join(", ")
        );
        medians.push(m);
        server.stop();
    }
    let worst = medians.iter().copied().fold(0.0, f64::max);
    println!("| cold loads: worst round's median long/fresh ({rounds} rounds, {accounts} pairs, {events} events each) | {worst:.2} |");
    Ok(())
}
