//! Two `ledger serve` on one SQLite file, both depositing into one hot account. Each
//! process decides on its own cached state, so their appends meet in version conflicts;
//! a command that meets them twice decides again holding the file's write turn, where
//! the other process cannot move the account. Without that, the process that fell
//! behind kept losing to the other: its deposits were answered 409 after twenty
//! conflicts, or waited for seconds.

use std::sync::Arc;

use ledger_tests::process::{free_port, serve_on_sqlite, terminate, wait_up, Served};
use serde_json::{json, Value};

/// The processes, killed if the test stops before it stops them.
struct Processes(Vec<Served>);

impl Drop for Processes {
    fn drop(&mut self) {
        for process in &mut self.0 {
            let _ = process.child.kill();
        }
    }
}

/// Clients per process, and the deposits each sends.
const CLIENTS: usize = 8;
const DEPOSITS: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_file_share_a_hot_account_without_conflicts() {
    let dir = std::env::temp_dir().join(format!("ledger-two-{}", uuid::Uuid::new_v4()));
    let ports = [free_port(), free_port()];
    let http = reqwest::Client::new();
    let mut served = Processes(Vec::new());
    for port in ports {
        served.0.push(serve_on_sqlite(&dir, port, &[]));
        wait_up(&http, &format!("http://127.0.0.1:{port}")).await;
    }
    let bases: Arc<Vec<String>> = Arc::new(
        ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect(),
    );
    let opened = http
        .post(format!("{}/accounts", bases[0]))
        .json(&json!({"account_id": "hot", "owner": "H", "currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 201);

    let mut clients = Vec::new();
    for client in 0..2 * CLIENTS {
        let (http, bases) = (http.clone(), bases.clone());
        clients.push(tokio::spawn(async move {
            let base = &bases[client % 2];
            let mut refused = Vec::new();
            for n in 0..DEPOSITS {
                let answer = http
                    .post(format!("{base}/accounts/hot/deposit"))
                    .header("Idempotency-Key", format!("c{client}-{n}"))
                    .json(&json!({"amount": "1"}))
                    .send()
                    .await
                    .unwrap();
                let status = answer.status();
                if status != 200 {
                    refused.push(format!("{base}: {status} {}", answer.text().await.unwrap()));
                }
            }
            refused
        }));
    }
    let mut refused = Vec::new();
    for client in clients {
        refused.extend(client.await.unwrap());
    }
    assert!(
        refused.is_empty(),
        "{} of {} deposits refused, e.g. {:?}",
        refused.len(),
        2 * CLIENTS * DEPOSITS,
        &refused[..refused.len().min(3)]
    );
    // Each process reads its own writes at once and the other's once the views have
    // them (the current-state view is eventually consistent between processes).
    let total = 2 * CLIENTS * DEPOSITS;
    for base in bases.iter() {
        let mut account = Value::Null;
        for _ in 0..600 {
            account = http
                .get(format!("{base}/accounts/hot"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if account["version"] == total + 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(account["version"], total + 1, "as {base} reads it");
        assert_eq!(
            account["balance"],
            format!("{total}.00"),
            "as {base} reads it"
        );
    }
    for mut process in std::mem::take(&mut served.0) {
        let status = terminate(&mut process.child).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "a process stopped with {status:?}"
        );
        process.finish().unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}
