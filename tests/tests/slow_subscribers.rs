//! Live-feed subscribers that read too slowly, against the real server loop: one that
//! never reads is dropped from the feed instead of growing memory, and one that reads
//! steadily but slower than the feed grows is cut off with the closing comment that
//! says why, not in the middle of an event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_tests::{json, Backend, Options, TestApp};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An app whose writes to a client wait at most `write_timeout_ms`.
async fn app(write_timeout_ms: u64) -> TestApp {
    let options = Options {
        write_timeout_ms,
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await;
    let open = json!({"account_id": "flood", "owner": "Ada", "currency": "USD"});
    assert_eq!(json(app.post("/accounts", open).await).await.0, 201);
    app
}

/// A connection with a 4 KiB receive buffer that has asked for `path`.
async fn subscribe(app: &TestApp, path: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("a small receive buffer");
    let address = app
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let mut tcp = socket.connect(address).await.expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("sends");
    tcp
}

fn deposits(count: usize) -> serde_json::Value {
    let deposits: Vec<_> = (0..count)
        .map(|_| json!({"op": "deposit", "account_id": "flood", "amount": "0.01"}))
        .collect();
    json!({"atomic": false, "operations": deposits})
}

async fn subscribers(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines()
        .find_map(|l| l.strip_prefix("ledger_sse_subscribers "))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map_or(u64::MAX, |n| n as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_subscriber_that_never_reads_is_closed() {
    let app = app(1_000).await;
    let tcp = subscribe(&app, "/events/stream").await;
    for _ in 0..100 {
        if subscribers(&app).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(subscribers(&app).await, 1, "the stream is open");
    // It never reads: events pile up in the socket until a write waits past the
    // deadline, and the server closes the connection and drops the subscription.
    let mut gone = false;
    for _ in 0..300 {
        assert_eq!(json(app.post("/batches", deposits(500)).await).await.0, 200);
        if subscribers(&app).await == 0 {
            gone = true;
            break;
        }
    }
    assert!(gone, "a subscriber that never reads is dropped");
    assert_eq!(app.get("/health").await.status(), 200);
    drop(tcp);
}

/// Reads `tcp` until `seen` holds `marker`, the server closes, or 10 s pass.
async fn read_until(tcp: &mut TcpStream, seen: &mut Vec<u8>, marker: &str) {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(seen).contains(marker) && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_steady_subscriber_is_told_why_it_is_cut_off() {
    // A write may wait 5 s: this reader's next reads free room much sooner.
    let app = Arc::new(app(5_000).await);
    let mut tcp = subscribe(&app, "/events/stream?after=end").await;
    // Live first: each of two deposits is read before the next is made.
    let mut seen = Vec::new();
    for balance in ["0.01", "0.02"] {
        assert_eq!(json(app.post("/batches", deposits(1)).await).await.0, 200);
        read_until(&mut tcp, &mut seen, &format!(r#""balance":"{balance}""#)).await;
    }
    assert!(String::from_utf8_lossy(&seen).contains(r#""balance":"0.02""#));
    // The feed grows far faster than this reader takes it (about 50 KB/s, never
    // stopping): the server's socket fills while every write still makes progress.
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn({
        let (app, stop) = (app.clone(), stop.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(json(app.post("/batches", deposits(500)).await).await.0, 200);
            }
        }
    });
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(120);
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break "the server closed the connection",
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => break "nothing arrived for 5 s",
        }
        if String::from_utf8_lossy(&seen).contains(": closed:") {
            break "a closing comment";
        }
        if Instant::now() > deadline {
            break "still streaming after two minutes";
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.store(true, Ordering::Relaxed);
    load.await.expect("the load ran");
    let text = String::from_utf8_lossy(&seen);
    let tail = &text[text.len().saturating_sub(300)..];
    assert!(
        text.contains(": closed: this subscriber fell too far behind the feed"),
        "the stream ended with {ended}, {} bytes read; its tail: {tail:?}",
        seen.len()
    );
}
