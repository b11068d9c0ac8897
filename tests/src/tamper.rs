//! Changing a store's rows as a database superuser would (the immutability triggers
//! switched off), and running `ledger verify` on it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ledger_application::ports::store::{ChainHash, EventStore, RecordedEvent, StreamQuery};
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};

use crate::{json, ledger_binary, Backend, Options, TestApp};
use serde_json::{json, Value};

/// A connection to a PostgreSQL database with its triggers off (replica mode), as a
/// superuser would open it.
async fn superuser(url: &str) -> PgConnection {
    let mut c = PgConnection::connect(url).await.expect("connect");
    c.execute("SET session_replication_role = replica")
        .await
        .expect("superuser");
    c
}

/// A stopped application's store.
pub enum Store {
    /// A PostgreSQL database URL.
    Pg(String),
    /// A `sqlite://` URL.
    Sqlite(String),
}

impl Store {
    /// The store behind a storage URL.
    pub fn at(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            Self::Sqlite(url.to_owned())
        } else {
            Self::Pg(url.to_owned())
        }
    }

    fn url(&self) -> &str {
        match self {
            Self::Pg(u) | Self::Sqlite(u) => u,
        }
    }

    /// Runs statements with the immutability triggers off.
    pub async fn exec(&self, sql: &str) {
        match self {
            Self::Pg(url) => {
                superuser(url).await.execute(sql).await.expect("tampering");
            }
            Self::Sqlite(url) => {
                let mut c = SqliteConnection::connect(url).await.expect("connect");
                c.execute("DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete")
                    .await
                    .expect("drop the triggers");
                c.execute(sql).await.expect("tampering");
            }
        }
    }

    /// Runs statements on the read models (SQLite: their own file beside the events').
    pub async fn exec_read_models(&self, sql: &str) {
        match self {
            Self::Pg(_) => self.exec(sql).await,
            Self::Sqlite(url) => {
                let events = ledger_sqlite::open_existing(url).await.expect("open");
                let read_models = ledger_sqlite::open_read_models_existing(&events)
                    .await
                    .expect("open the read models");
                read_models.writer().execute(sql).await.expect("tampering");
            }
        }
    }

    /// A stream's events as stored.
    pub async fn events(&self, stream: &str) -> Vec<RecordedEvent> {
        let store: Arc<dyn EventStore> = match self {
            Self::Pg(url) => Arc::new(ledger_postgres::PgEventStore::direct(
                ledger_postgres::pool(url, 2).expect("pool"),
            )),
            Self::Sqlite(url) => Arc::new(ledger_sqlite::open(url).await.expect("open")),
        };
        store
            .read_stream(StreamQuery {
                stream_id: stream,
                after_version: 0,
                until: None,
                limit: 10_000,
            })
            .await
            .expect("read")
    }

    /// Overwrites an event's data and hashes.
    pub async fn rewrite(&self, e: &RecordedEvent) {
        let (prev, hash) = (e.prev_hash.0.to_vec(), e.hash.0.to_vec());
        match self {
            Self::Pg(url) => {
                let mut c = superuser(url).await;
                sqlx::query("UPDATE events SET data = $1::json, prev_hash = $2, hash = $3 WHERE event_id = $4")
                    .bind(&e.data)
                    .bind(prev)
                    .bind(hash)
                    .bind(e.event_id)
                    .execute(&mut c)
                    .await
                    .expect("rewrite");
            }
            Self::Sqlite(_) => {
                self.exec("SELECT 1").await;
                let mut c = SqliteConnection::connect(self.url())
                    .await
                    .expect("connect");
                sqlx::query(
                    "UPDATE events SET data = ?1, prev_hash = ?2, hash = ?3 WHERE event_id = ?4",
                )
                .bind(&e.data)
                .bind(prev)
                .bind(hash)
                .bind(e.event_id.to_string())
                .execute(&mut c)
                .await
                .expect("rewrite");
            }
        }
    }

    /// Inserts an event at the very start of the feed (PostgreSQL: the oldest
    /// transaction id; SQLite: position 0), where seals cover it.
    pub async fn insert_first(&self, e: &RecordedEvent) {
        self.insert(e, 1, 0).await;
    }

    /// Inserts an event where the feed never shows it (PostgreSQL: a transaction id
    /// from the future; SQLite: a negative position).
    pub async fn insert_hidden(&self, e: &RecordedEvent) {
        self.insert(e, 9_000_000_000_000_000, -5).await;
    }

    /// Inserts an event before the feed's start (PostgreSQL: a negative transaction id;
    /// SQLite: a negative position), where the feed never shows it either.
    pub async fn insert_before_the_feed(&self, e: &RecordedEvent) {
        self.insert(e, -5, -5).await;
    }

    /// Inserts an event with the given transaction id (PostgreSQL) or position (SQLite).
    async fn insert(&self, e: &RecordedEvent, pg_tx_id: i64, sqlite_position: i64) {
        let metadata = serde_json::to_string(&e.metadata).expect("metadata");
        let (prev, hash) = (e.prev_hash.0.to_vec(), e.hash.0.to_vec());
        match self {
            Self::Pg(url) => {
                let mut c = PgConnection::connect(url).await.expect("connect");
                sqlx::query(
                    "INSERT INTO events (tx_id, stream_id, stream_type, version, event_id, event_type, \
                     schema_version, data, metadata, recorded_at, prev_hash, hash) \
                     VALUES ($12, $1, $2, $3, $4, $5, $6, $7::json, $8::jsonb, $9, $10, $11)",
                )
                .bind(&e.stream_id)
                .bind(&e.stream_type)
                .bind(e.version as i64)
                .bind(e.event_id)
                .bind(&e.event_type)
                .bind(e.schema_version as i32)
                .bind(&e.data)
                .bind(metadata)
                .bind(e.recorded_at)
                .bind(prev)
                .bind(hash)
                .bind(pg_tx_id)
                .execute(&mut c)
                .await
                .expect("insert");
            }
            Self::Sqlite(url) => {
                let mut c = SqliteConnection::connect(url).await.expect("connect");
                sqlx::query(
                    "INSERT INTO events (position, stream_id, stream_type, version, event_id, event_type, \
                     schema_version, data, metadata, recorded_at, prev_hash, hash) \
                     VALUES (?12, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .bind(&e.stream_id)
                .bind(&e.stream_type)
                .bind(e.version as i64)
                .bind(e.event_id.to_string())
                .bind(&e.event_type)
                .bind(e.schema_version as i64)
                .bind(&e.data)
                .bind(metadata)
                .bind(e.recorded_at.timestamp_micros())
                .bind(prev)
                .bind(hash)
                .bind(sqlite_position)
                .execute(&mut c)
                .await
                .expect("insert");
            }
        }
    }
}

/// Recomputes every hash of `events` (one stream, in order) from their fields.
pub fn rechain(events: &mut [RecordedEvent]) {
    let mut head = ChainHash::ZERO;
    for e in events {
        e.prev_hash = head;
        e.hash = e.computed_hash(head);
        head = e.hash;
    }
}

/// Runs `ledger verify` on a store: its exit code and its output.
pub async fn verify(url: &str, public_key: Option<&Path>) -> (i32, String) {
    verify_with(url, public_key, &[]).await
}

/// `ledger verify` with more arguments (`--stream ID`).
pub async fn verify_with(url: &str, public_key: Option<&Path>, args: &[&str]) -> (i32, String) {
    let mut cmd = Command::new(ledger_binary());
    cmd.arg("verify")
        .args(args)
        .env("LEDGER__STORAGE__URL", url)
        .env("LEDGER__LOG__LEVEL", "error");
    if let Some(key) = public_key {
        cmd.arg("--public-key").arg(key);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("joined");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A new signing key in a fresh directory: (directory, key file).
pub fn new_key() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("ledger-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = dir.join("seal.pem");
    let out = Command::new(ledger_binary())
        .args(["keys", "generate", "--out"])
        .arg(&key)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("BEGIN PUBLIC KEY"));
    // PKCS#8 version 1 (RFC 8410), which OpenSSL reads: 48 bytes whose base64 always
    // begins so. (Version 2, with the public key, was refused by OpenSSL 3.0.)
    let pem = std::fs::read_to_string(&key).expect("key file");
    let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(
        body.len() == 1 && body[0].len() == 64 && body[0].starts_with("MC4CAQAwBQYDK2VwBCIEI"),
        "{pem}"
    );
    (dir, key)
}

/// A ledger with two accounts, deposits and a transfer, sealed after its last
/// command, its projections caught up, stopped. Returns it (the store lives until it
/// is dropped), its storage URL and the key directory.
pub async fn sealed_ledger(backend: Backend) -> (TestApp, String, PathBuf, PathBuf) {
    let (dir, key) = new_key();
    let options = Options {
        signing_key: Some(key.display().to_string()),
        ..Options::default()
    };
    let mut app = TestApp::spawn_with(backend, options).await;
    for id in ["acc-1", "acc-2"] {
        let (s, b) = json(
            app.post(
                "/accounts",
                json!({"account_id": id, "owner": "Ada", "currency": "USD"}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 201, "{b}");
    }
    for amount in ["10.00", "20.00", "30.00"] {
        let (s, b) = json(
            app.post("/accounts/acc-1/deposit", json!({"amount": amount}))
                .await,
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let t = json!({"transfer_id": "t-1", "from_account_id": "acc-1", "to_account_id": "acc-2",
        "amount": "5.00"});
    let (s, b) = json(app.post("/transfers", t).await).await;
    assert_eq!(s, 201, "{b}");
    // The seal covers everything once it is the feed's last event and counts every one
    // before it (a sealer that read the feed before the last commands, then appended
    // after them, made a last seal covering less: seen once under load in CI).
    app.eventually("/events?limit=1000", |b: &Value| {
        b["events"].as_array().is_some_and(|events| {
            events.last().is_some_and(|e| {
                e["event_type"] == "LedgerSealed"
                    && e["data"]["events"].as_u64() == Some(events.len() as u64 - 1)
            })
        })
    })
    .await;
    app.eventually("/accounts/acc-2", |b: &Value| b["balance"] == "5.00")
        .await;
    app.eventually("/accounts/acc-1", |b: &Value| b["balance"] == "55.00")
        .await;
    // Every view (the transfers view once trailed, and a tampering test then changed
    // no row).
    app.projections_caught_up().await;
    app.stop_and_wait().await;
    let url = app.storage_url();
    (app, url, dir, key)
}

/// `ledger verify` exited 1 with `pass` as its first finding.
pub fn assert_caught(code: i32, out: &str, pass: &str) {
    assert_eq!(code, 1, "verify exits 1 on tampering: {out}");
    assert!(
        out.contains(&format!("FAILED: {pass}")),
        "the first finding is {pass}: {out}"
    );
}
