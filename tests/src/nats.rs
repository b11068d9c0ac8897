//! NATS for the relay tests: the shared server (`LEDGER_TEST_NATS_URL`, default
//! `nats://127.0.0.1:4222`) with a stream of the test's own, or a private
//! `nats-server -js` on a free port that the test may kill and restart; and what a
//! stream holds, read back message by message.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ledger_bootstrap::settings::Nats;

/// The shared NATS server.
pub fn nats_url() -> String {
    std::env::var("LEDGER_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Relay settings on `url` with a stream and subject prefix no other test uses.
pub fn relay_to(url: &str) -> Nats {
    let id = uuid::Uuid::new_v4().simple().to_string();
    Nats {
        url: Some(url.to_owned()),
        stream: format!("T{id}"),
        subject_prefix: format!("t{id}.events"),
    }
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    /// Its subject.
    pub subject: String,
    /// `Nats-Msg-Id`.
    pub msg_id: String,
    /// `Ledger-Cursor`.
    pub cursor: String,
    /// The event JSON.
    pub body: serde_json::Value,
}

/// Every message of the stream, in stream order (empty when the stream does not exist).
pub async fn stored(url: &str, stream: &str) -> Vec<Relayed> {
    let client = async_nats::connect(url).await.expect("NATS answers");
    let js = async_nats::jetstream::new(client);
    let Ok(mut s) = js.get_stream(stream).await else {
        return Vec::new();
    };
    let info = s.info().await.expect("stream info").state.clone();
    let mut out = Vec::with_capacity(info.messages as usize);
    for seq in info.first_sequence..=info.last_sequence {
        if info.messages == 0 {
            break;
        }
        let m = s.get_raw_message(seq).await.expect("message");
        let header = |name: &str| {
            m.headers
                .get(name)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        out.push(Relayed {
            subject: m.subject.to_string(),
            msg_id: header("Nats-Msg-Id"),
            cursor: header("Ledger-Cursor"),
            body: serde_json::from_slice(&m.payload).expect("event JSON"),
        });
    }
    out
}

/// Asserts that `stream` holds every event of the PostgreSQL store at `pool` exactly
/// once (by `Nats-Msg-Id`, the event id), waiting up to 20 s for the two to hold still
/// (a sealer may still add a seal, and the relay publish it); how many it holds.
pub async fn every_event_once(pool: &sqlx::PgPool, url: &str, stream: &str) -> usize {
    use sqlx::Row;
    let (mut ids, mut relayed) = (HashSet::new(), Vec::new());
    for _ in 0..100 {
        ids = sqlx::query("SELECT event_id::text FROM events")
            .fetch_all(pool)
            .await
            .expect("ids")
            .iter()
            .map(|r| r.get(0))
            .collect();
        relayed = stored(url, stream).await;
        if relayed.len() == ids.len() && relayed.iter().all(|m| ids.contains(&m.msg_id)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let relayed_ids: HashSet<String> = relayed.iter().map(|m| m.msg_id.clone()).collect();
    assert_eq!(relayed.len(), relayed_ids.len(), "an event relayed twice");
    assert!(
        relayed_ids == ids,
        "the stream holds every event: {} relayed, {} stored",
        relayed_ids.len(),
        ids.len()
    );
    relayed.len()
}

/// Deletes the test's stream.
pub async fn delete_stream(url: &str, stream: &str) {
    if let Ok(client) = async_nats::connect(url).await {
        let _ = async_nats::jetstream::new(client)
            .delete_stream(stream)
            .await;
    }
}

/// A `nats-server -js` of the test's own, on a free port with a temporary store.
pub struct PrivateNats {
    /// Its port.
    pub port: u16,
    dir: PathBuf,
    /// More arguments of `nats-server` (a login it requires).
    extra: Vec<String>,
    child: Option<Child>,
}

impl PrivateNats {
    /// Starts one and waits until it accepts connections.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts one with more arguments (`--user u --pass p`, `--auth token`).
    pub async fn start_with(extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("ledger-nats-{}", uuid::Uuid::new_v4()));
        let mut n = Self {
            port: crate::process::free_port(),
            dir,
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
            child: None,
        };
        n.restart().await;
        n
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub async fn restart(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (the test script installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the private nats-server never listened on {}", self.port);
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
