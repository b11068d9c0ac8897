//! What access control costs: the spread with an owner key per client (each client's
//! accounts owned by its key's owner) against the same spread with the API open, on
//! two servers of the same binary, alternating in one run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ledger_postgres::testing::TestDatabase;
use serde_json::json;

use crate::load;
use crate::server::{row, settle, spread_server_with, BENCH_ADMIN_TOKEN};

/// Accounts in all, split among the clients.
const ACCOUNTS: usize = 1000;

/// Client `c`'s account on its `i`-th request: one of those it owns (`j % clients == c`),
/// stepping through them as the spread does.
fn owned_account(c: usize, i: usize, clients: usize) -> usize {
    let per_client = ACCOUNTS / clients;
    c + clients * ((i * 31) % per_client)
}

/// A server on a fresh database whose account `s-j` belongs to `owner-<j % clients>`,
/// and, when `keys`, an owner key per client: (server, address, database, secrets).
async fn server(
    binary: &PathBuf,
    clients: usize,
    keys: bool,
) -> anyhow::Result<(std::process::Child, String, TestDatabase, Vec<String>)> {
    // No projectors: each run measures commands alone, with no projector of the other
    // server catching up (the stricter test: the check is a larger share of less work).
    let owner = |j: usize| format!("owner-{}", j % clients);
    let (child, addr, db) = spread_server_with(binary, clients, false, owner).await?;
    let http = reqwest::Client::new();
    let mut secrets = Vec::new();
    let wanted = if keys { clients } else { 0 };
    for c in 0..wanted {
        let body =
            json!({"name": format!("client {c}"), "role": "owner", "owner": format!("owner-{c}")});
        let made: serde_json::Value = http
            .post(format!("http://{addr}/admin/api-keys"))
            .bearer_auth(BENCH_ADMIN_TOKEN)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        let secret = made["secret"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no secret: {made}"))?;
        secrets.push(secret.to_owned());
    }
    Ok((child, addr, db, secrets))
}

fn deposits(clients: usize) -> load::Make {
    Arc::new(move |c, i| {
        (
            format!("/accounts/s-{}/deposit", owned_account(c, i, clients)),
            bytes::Bytes::from_static(br#"{"amount":"1.00"}"#),
        )
    })
}

/// The spread with owner keys against the open spread, alternating which goes first.
pub(crate) async fn owner_keys_cost(
    binary: &PathBuf,
    clients: usize,
    secs: Duration,
    rounds: usize,
) -> anyhow::Result<()> {
    let (mut keyed_server, keyed_addr, keyed_db, secrets) = server(binary, clients, true).await?;
    let (mut open_server, open_addr, _open_db, _) = server(binary, clients, false).await?;
    let secrets = Arc::new(secrets);
    let pool = ledger_postgres::pool_with(keyed_db.options.clone(), 1);
    // Each run starts from the same place: a checkpoint done.
    let quiet = || async {
        settle(&pool).await;
        anyhow::Ok(())
    };
    let keyed = || {
        load::run_as(
            &keyed_addr,
            clients,
            secs,
            deposits(clients),
            secrets.clone(),
        )
    };
    let open = || load::run(&open_addr, clients, secs, deposits(clients));
    let (mut with, mut without) = (load::Outcome::default(), load::Outcome::default());
    let mut ratios = Vec::new();
    for round in 0..rounds.max(1) {
        quiet().await?;
        let (a, b) = if round % 2 == 0 {
            let a = keyed().await;
            quiet().await?;
            (a, open().await)
        } else {
            let b = open().await;
            quiet().await?;
            (keyed().await, b)
        };
        println!(
            "(round {}: owner keys {:.0} req/s {:?}; open {:.0} req/s {:?})",
            round + 1,
            a.throughput(),
            a.statuses,
            b.throughput(),
            b.statuses
        );
        ratios.push(a.throughput() / b.throughput());
        with.merge(a);
        without.merge(b);
    }
    row(
        &format!("spread, an owner key per client ({clients} clients)"),
        &with,
        None,
    );
    row(
        &format!("spread, API open ({clients} clients)"),
        &without,
        None,
    );
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
    println!(
        "| spread with owner keys / open (rounds: {}) | {:.3} |",
        shown.join(", "),
        with.throughput() / without.throughput()
    );
    for s in [&mut keyed_server, &mut open_server] {
        let _ = s.kill();
        let _ = s.wait();
    }
    Ok(())
}
