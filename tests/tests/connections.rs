//! Idle connections cannot take the descriptors the store needs: the binary, under an
//! open-file limit of 200 (soft and hard, as `ulimit -n` sets it), holds at most half
//! of it in connections. Past that bound the next client waits in the listen queue
//! (90 of them here: within any kernel's queue), while commands on a connection
//! already open still commit (before the bound, idle sockets past the limit left
//! SQLite no descriptor for its lock files: every command 503).

use std::process::{Child, Stdio};
use std::time::Duration;

use ledger_tests::json;
use ledger_tests::process::{free_port, serve_through, terminate, wait_up};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `ledger serve` on a SQLite file in `dir` under `ulimit -n 200`.
fn serve_with_few_files(dir: &std::path::Path, port: u16) -> Child {
    let limited = ["sh", "-c", "ulimit -n 200 && exec \"$0\" \"$@\""];
    // Idle connections stay until the test closes them.
    let env = [("LEDGER__SERVER__HEADER_READ_TIMEOUT_MS", "120000")];
    serve_through(&limited, dir, port, &env, Stdio::null())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_past_the_bound_wait_and_commands_still_commit() {
    let dir = std::env::temp_dir().join(format!("ledger-conns-{}", uuid::Uuid::new_v4()));
    let port = free_port();
    let mut child = serve_with_few_files(&dir, port);
    let base = format!("http://127.0.0.1:{port}");
    // One kept-alive connection, opened before the crowd.
    let kept = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    wait_up(&kept, &base).await;
    let (s, _) = json(
        kept.post(format!("{base}/accounts"))
            .json(&json!({"account_id": "fd", "owner": "F", "currency": "USD"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 201);
    let mut idle = Vec::new();
    for _ in 0..190 {
        idle.push(
            TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connects"),
        );
    }
    // A new client past the bound is not served while the crowd stays (this also
    // gives the server the time to take every connection it will)...
    let mut late = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("queued");
    late.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("sends");
    let mut answer = Vec::new();
    let early = tokio::time::timeout(Duration::from_secs(1), late.read_to_end(&mut answer)).await;
    assert!(early.is_err(), "answered past the bound: {answer:?}");
    // ...while a command on the connection already open commits.
    for _ in 0..5 {
        let (s, b) = json(
            kept.post(format!("{base}/accounts/fd/deposit"))
                .json(&json!({"amount": "1"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    // The crowd gone, the queued client is served.
    drop(idle);
    tokio::time::timeout(Duration::from_secs(60), late.read_to_end(&mut answer))
        .await
        .expect("served once the crowd left")
        .expect("reads");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (_, b) = json(
        kept.get(format!("{base}/accounts/fd"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(b["balance"], json!("5.00"));
    terminate(&mut child).await;
    let _ = std::fs::remove_dir_all(&dir);
}
