//! The compiled binary as a process a test can kill: on a free port, against a test
//! database and the real Redis, with the admin token `crash-admin`.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::{ledger_binary, redis_url};

/// A port nothing listens on, below the kernel's ephemeral range (32768 and up): a
/// test that stops a server and starts it again on the same port must not find that
/// port taken meanwhile by another test's server (which binds port 0) or by an
/// outgoing connection, both of which the kernel gives ephemeral ports.
pub fn free_port() -> u16 {
    loop {
        let offset = u16::try_from(uuid::Uuid::new_v4().as_u128() % 12_000).unwrap_or(0);
        let port = 20_000 + offset;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Starts the binary on `db_url` (snapshots every 3 events, keys of this database).
pub fn start(db_url: &str, port: u16) -> Child {
    start_with(db_url, port, &[])
}

/// [`start`] with more settings (`LEDGER__...` variables; they win over the ones
/// above, e.g. another `LEDGER__SNAPSHOTS__URL`).
pub fn start_with(db_url: &str, port: u16, env: &[(&str, &str)]) -> Child {
    command(db_url, port, env)
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

/// [`start_with`], its log (warnings, and the relay's and projections' steps) appended
/// to the file `log`, for a test to show when it fails.
pub fn start_logging(db_url: &str, port: u16, env: &[(&str, &str)], log: &Path) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("the log file");
    // Before the caller's settings, which win over it.
    let env: Vec<(&str, &str)> = [("LEDGER__LOG__LEVEL", "warn,ledger_bootstrap=info")]
        .into_iter()
        .chain(env.iter().copied())
        .collect();
    command(db_url, port, &env)
        .stderr(file)
        .spawn()
        .expect("the binary starts")
}

fn command(db_url: &str, port: u16, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(ledger_binary());
    command
        .env("LEDGER__SERVER__ADDRESS", format!("127.0.0.1:{port}"))
        .env("LEDGER__STORAGE__URL", db_url)
        .env("LEDGER__SNAPSHOTS__URL", redis_url())
        // Keys of this test's database only (kept across its restarts), expiring.
        .env(
            "LEDGER__SNAPSHOTS__PREFIX",
            format!(
                "ledger-test-{}:",
                db_url.rsplit('/').next().unwrap_or("crash")
            ),
        )
        .env("LEDGER__SNAPSHOTS__TTL_SECONDS", "600")
        .env("LEDGER__SNAPSHOTS__EVERY", "3")
        .env("LEDGER__AUTH__ADMIN_TOKEN", "crash-admin")
        .env("LEDGER__LOG__LEVEL", "error")
        .envs(env.iter().copied())
        .stdout(Stdio::null());
    command
}

/// `ledger serve` on a SQLite file in `dir`, with more settings (`LEDGER__...`), its
/// stdout and stderr read as it writes them (a pipe nobody reads fills at 64 KiB and
/// then stalls the server at its next log line); [`Served::finish`] gives them.
pub fn serve_on_sqlite(dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Served {
    let mut child = serve_command(&[], dir, port, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    Served { child, out, err }
}

/// `ledger serve` on a SQLite file in `dir`, started through `wrapper`: a program and
/// its arguments, which the binary's path and `serve` follow (`env
/// --default-signal=HUP`, or `sh -c '<set-up> && exec "$0" "$@"'` for a shell's
/// `ulimit` or `trap`). Its standard error goes to `stderr`; nothing is captured.
pub fn serve_through(
    wrapper: &[&str],
    dir: &Path,
    port: u16,
    env: &[(&str, &str)],
    stderr: Stdio,
) -> Child {
    serve_command(wrapper, dir, port, env)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("the binary starts")
}

/// `ledger serve` on a SQLite file in `dir` on `port`, through `wrapper` if any.
fn serve_command(wrapper: &[&str], dir: &Path, port: u16, env: &[(&str, &str)]) -> Command {
    let binary = ledger_binary();
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(&binary);
            c
        }
        None => Command::new(&binary),
    };
    command
        .arg("serve")
        .env("LEDGER__SERVER__ADDRESS", format!("127.0.0.1:{port}"))
        .env(
            "LEDGER__STORAGE__URL",
            format!("sqlite://{}/ledger.db", dir.display()),
        )
        .envs(env.iter().copied());
    command
}

/// Reads a pipe to its end on a thread of its own.
fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error ends the capture; what was read is kept.
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// A running `ledger serve` whose output is being captured.
pub struct Served {
    /// The process.
    pub child: Child,
    out: JoinHandle<Vec<u8>>,
    err: JoinHandle<Vec<u8>>,
}

impl Served {
    /// Waits for the process to exit; its status and everything it wrote.
    pub fn finish(mut self) -> std::io::Result<Output> {
        let status = self.child.wait()?;
        let join = |h: JoinHandle<Vec<u8>>| h.join().unwrap_or_default();
        Ok(Output {
            status,
            stdout: join(self.out),
            stderr: join(self.err),
        })
    }
}

/// Waits until it answers `/health`.
pub async fn wait_up(client: &reqwest::Client, base: &str) {
    for _ in 0..150 {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the binary never came up");
}

/// Polls `/admin/projections` (admin token `crash-admin`) for up to a minute until every
/// projection and the relay are live at lag 0.
pub async fn caught_up(http: &reqwest::Client, base: &str) -> bool {
    for _ in 0..600 {
        if let Ok(r) = http
            .get(format!("{base}/admin/projections"))
            .bearer_auth("crash-admin")
            .send()
            .await
        {
            let all: Value = r.json().await.unwrap_or(Value::Null);
            let list = all["projections"].as_array().cloned().unwrap_or_default();
            let done = |p: &Value| p["lag_events"] == 0 && p["state"] == "live";
            if list.iter().any(|p| p["name"] == "relay") && list.iter().all(done) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Sends SIGTERM and waits up to 30 s for the process to end: its exit status, or
/// `None` when it is still running (then it is killed).
pub async fn terminate(child: &mut Child) -> Option<std::process::ExitStatus> {
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    for _ in 0..300 {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// A new Ed25519 signing key at `path` (PKCS#8 PEM), made by `ledger keys generate`.
pub fn generate_signing_key(path: &std::path::Path) {
    let made = Command::new(ledger_binary())
        .args(["keys", "generate", "--out"])
        .arg(path)
        .output()
        .expect("ledger keys generate runs");
    assert!(made.status.success(), "ledger keys generate: {made:?}");
}
