//! End-to-end test support: the real application on port 0 against a fresh PostgreSQL
//! database and the real Redis, or on a fresh SQLite file; and the compiled binary.
#![forbid(unsafe_code)]

mod app_settings;
pub mod browser;
pub mod console_app;
pub mod feed_read;
pub mod model;
pub mod model_checks;
pub mod model_http;
pub mod nats;
pub mod private;
pub mod process;
mod proxy;
pub mod sse;
pub mod tamper;
mod waits;
pub use app_settings::{redis_url, settings, Options};
pub use proxy::Proxy;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ledger_application::expirer::Expirer;
use ledger_application::ports::system::{Clock, ManualClock, SystemClock};

use ledger_bootstrap::settings::Settings;
use ledger_bootstrap::Application;
use ledger_postgres::testing::TestDatabase;
use reqwest::{Client, Method, Response};
use serde_json::Value;

/// Runs each named `async fn(Backend)` as two tests: on PostgreSQL + Redis (module
/// `postgres_redis`) and on the SQLite default (module `sqlite`).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::PostgresRedis).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await;
                }
            )*
        }
    };
}

/// Which stores the application runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh PostgreSQL database and the real Redis.
    PostgresRedis,
    /// A fresh SQLite file and in-process snapshots (the embedded default).
    Sqlite,
}

/// The admin token the test applications use.
pub const ADMIN: &str = "test-admin-token";

/// A running application; stops and cleans up when dropped.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client.
    pub client: Client,
    _db: Option<TestDatabase>,
    dir: Option<PathBuf>,
    /// The settings it runs with (a second instance on the same store reuses them).
    settings: Settings,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The served application's task: it ends once every background loop has.
    serving: Option<tokio::task::JoinHandle<Result<(), String>>>,
    /// Its expirer (a test driving a `ManualClock` runs a step at once).
    pub expirer: Arc<Expirer>,
    clock: Arc<dyn Clock>,
    /// The store opened as `ledger verify` opens it, once (see [`TestApp::verify_here`]).
    verifier_stores: tokio::sync::OnceCell<ledger_bootstrap::stores::Stores>,
}

impl TestApp {
    /// Starts the application on a fresh store.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, Options::default()).await
    }

    /// Starts the application on a fresh store with access options.
    pub async fn spawn_with(backend: Backend, options: Options) -> Self {
        // Errors the application logs show up in the failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("error")
            .with_test_writer()
            .try_init();
        let (db, dir, settings) = match backend {
            Backend::PostgresRedis => {
                let db = TestDatabase::create().await;
                let s = settings(db.url.clone(), redis_url(), &options);
                (Some(db), None, s)
            }
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("ledger-e2e-{}", uuid::Uuid::new_v4()));
                let url = format!("sqlite://{}/ledger.db", dir.display());
                (None, Some(dir), settings(url, "memory".into(), &options))
            }
        };
        let clock: Arc<dyn Clock> = match options.clock {
            Some(c) => c,
            None => Arc::new(SystemClock),
        };
        Self::start(settings, clock, db, dir).await
    }

    /// `ledger verify`'s four passes (`ledger_bootstrap::integrity::verify`, the code
    /// the binary runs, seals' signatures unchecked) in this process on this store:
    /// the findings, none when it verifies. Cheap enough to run after every command.
    pub async fn verify_here(&self) -> Vec<String> {
        let open = || ledger_bootstrap::stores::open_unchanged(&self.settings);
        let stores = match self.verifier_stores.get_or_try_init(open).await {
            Ok(s) => s,
            Err(e) => return vec![format!("the store does not open: {e:#}")],
        };
        match ledger_bootstrap::integrity::verify(stores, Vec::new(), None, None).await {
            Ok(report) => report.findings.iter().map(|f| format!("{f:?}")).collect(),
            Err(e) => vec![format!("the store is not readable: {e:#}")],
        }
    }

    /// The storage URL it runs on (for the binary's commands on the same store).
    pub fn storage_url(&self) -> String {
        self.settings.storage.url.expose().to_owned()
    }

    /// A second instance on the same store (database or file) as this one; the store
    /// is cleaned up by the first.
    pub async fn spawn_beside(&self) -> Self {
        Self::start(self.settings.clone(), self.clock.clone(), None, None).await
    }

    /// As [`Self::spawn_beside`], reading its own clock (two hosts' clocks disagree).
    pub async fn spawn_beside_with_clock(&self, clock: Arc<ManualClock>) -> Self {
        Self::start(self.settings.clone(), clock, None, None).await
    }

    /// As [`Self::spawn_beside`], sealing with another signing key (a PEM file).
    pub async fn spawn_beside_signing_with(&self, key: &std::path::Path) -> Self {
        let mut settings = self.settings.clone();
        let key = key.display().to_string();
        settings.integrity.signing_key = Some(ledger_http::Secret::new(&key));
        Self::start(settings, self.clock.clone(), None, None).await
    }

    async fn start(
        settings: Settings,
        clock: Arc<dyn Clock>,
        db: Option<TestDatabase>,
        dir: Option<PathBuf>,
    ) -> Self {
        let app = Application::build_with_clock(settings.clone(), clock.clone())
            .await
            .expect("the application builds");
        let expirer = app.expirer();
        let base = format!("http://127.0.0.1:{}", app.port());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let stopped = async move {
            let _ = rx.await;
        };
        let serving =
            tokio::spawn(async move { app.run_until(stopped).await.map_err(|e| e.to_string()) });
        Self {
            base,
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            _db: db,
            dir,
            settings,
            stop: Some(tx),
            serving: Some(serving),
            expirer,
            clock,
            verifier_stores: tokio::sync::OnceCell::new(),
        }
    }

    /// Sends a request with an optional JSON body and headers. A GET is sent again once
    /// when its pooled connection turns out closed (the server closes a connection after
    /// refusing a body it did not read, e.g. a 413; a real client retries a GET too).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Response {
        let build = || {
            let mut req = self
                .client
                .request(method.clone(), format!("{}{path}", self.base));
            if let Some(b) = &body {
                req = req.json(b);
            }
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req
        };
        match build().send().await {
            Err(e) if method == Method::GET && e.is_request() && !e.is_timeout() => {
                build().send().await.expect("the request is answered")
            }
            answer => answer.expect("the request is answered"),
        }
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None, &[]).await
    }

    /// GET as admin.
    pub async fn admin_get(&self, path: &str) -> Response {
        let auth = format!("Bearer {ADMIN}");
        self.send(Method::GET, path, None, &[("authorization", &auth)])
            .await
    }
}

impl TestApp {
    /// Stops serving (as SIGTERM would); the store stays until the drop.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Stops serving and waits until it has stopped: every background loop (projector,
    /// sealer, expirer, relay) ended, or was given up on after `run_until`'s bound
    /// (logged), and the stores closed, so that a test may change the store by hand or
    /// run `ledger verify` on it with nothing else writing. (A fixed pause stood in for
    /// this once; a loaded machine can outlast any.)
    pub async fn stop_and_wait(&mut self) {
        self.stop();
        if let Some(serving) = self.serving.take() {
            let ended = tokio::time::timeout(Duration::from_secs(60), serving).await;
            let ended = ended.expect("the application stops within 60 s");
            ended.expect("its task").expect("it stops cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Reads a response as (status, JSON body).
pub async fn json(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The compiled `ledger` binary, built first if needed.
pub fn ledger_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test executable");
            let dir = exe
                .parent()
                .and_then(|p| p.parent())
                .expect("target dir")
                .to_path_buf();
            // Built (or found up to date) once per test process: a binary left from an
            // earlier build would test old code.
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["build", "-q", "-p", "ledger-bootstrap", "--bin", "ledger"])
                .status()
                .expect("cargo build runs");
            assert!(status.success(), "building the ledger binary failed");
            dir.join("ledger")
        })
        .clone()
}

/// Opens the USD account `id` of Ada on the service at `base` (201, or the test fails).
pub async fn open_usd(http: &reqwest::Client, base: &str, id: &str) {
    let open = serde_json::json!({"account_id": id, "owner": "Ada", "currency": "USD"});
    let r = http
        .post(format!("{base}/accounts"))
        .json(&open)
        .send()
        .await;
    assert_eq!(r.expect("open").status(), 201, "account {id} opened");
}

/// A two-decimal amount as the API writes it (`"-12.05"`), in cents, exactly (never
/// through `f64`).
pub fn cents(amount: &Value) -> i64 {
    let text = amount.as_str().expect("an amount is a string");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').expect("two decimals");
    assert_eq!(fraction.len(), 2, "{text}");
    let value =
        whole.parse::<i64>().expect("digits") * 100 + fraction.parse::<i64>().expect("digits");
    if negative {
        -value
    } else {
        value
    }
}
