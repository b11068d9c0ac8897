//! Servers of a test's own, which it may restart: a PostgreSQL cluster (`initdb`,
//! `pg_ctl`, a free port; run as the `postgres` user, so the suite runs as root) and a
//! Redis. (A private NATS is `crate::nats::PrivateNats`.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::process::free_port;

/// A PostgreSQL cluster of the test's own, run as the `postgres` user.
pub struct PrivatePostgres {
    dir: PathBuf,
    /// Its write-ahead log's directory, when not inside `dir`.
    wal: Option<PathBuf>,
    /// Its port.
    pub port: u16,
    bin: PathBuf,
}

fn as_postgres(bin: &Path, tool: &str, args: &[&str]) -> bool {
    let tool = bin.join(tool);
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(tool)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl PrivatePostgres {
    /// Creates the cluster in a temporary directory and starts it.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("ledger-pg-{}", uuid::Uuid::new_v4()));
        Self::start_at(dir, None)
    }

    /// Creates the cluster with its data in `dir` (on a small disk, say) and its
    /// write-ahead log in a temporary directory, and starts it: a full `dir` then refuses
    /// new pages (SQLSTATE 53100) and the server runs on, where a full log would stop it.
    pub fn start_with_data_in(dir: PathBuf) -> Self {
        let wal = std::env::temp_dir().join(format!("ledger-wal-{}", uuid::Uuid::new_v4()));
        Self::start_at(dir, Some(wal))
    }

    fn start_at(dir: PathBuf, wal: Option<PathBuf>) -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries (Debian package postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("initdb");
        std::fs::create_dir_all(&dir).expect("dir");
        let owned = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status();
        assert!(
            owned.is_ok_and(|s| s.success()),
            "chown (the suite runs as root)"
        );
        let data = dir.display().to_string();
        let mut args = vec!["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"];
        let waldir = wal.as_ref().map(|w| format!("--waldir={}", w.display()));
        args.extend(waldir.as_deref());
        assert!(as_postgres(&bin, "initdb", &args));
        let cluster = Self {
            dir,
            wal,
            port: free_port(),
            bin,
        };
        cluster.ctl(&["start"]);
        cluster
    }

    /// `pg_ctl` with these arguments (e.g. `["-m", "fast", "restart"]`).
    pub fn ctl(&self, action: &[&str]) {
        let data = self.dir.display().to_string();
        let options = format!("-p {} -k /tmp -c listen_addresses=127.0.0.1", self.port);
        let log = self.dir.join("log").display().to_string();
        let mut args = vec!["-D", &data, "-o", &options, "-l", &log, "-w"];
        args.extend_from_slice(action);
        assert!(as_postgres(&self.bin, "pg_ctl", &args), "pg_ctl {action:?}");
    }

    /// Its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.display().to_string();
        as_postgres(
            &self.bin,
            "pg_ctl",
            &["-D", &data, "-m", "immediate", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(wal) = &self.wal {
            let _ = std::fs::remove_dir_all(wal);
        }
    }
}

/// A Redis of the test's own.
pub struct PrivateRedis {
    /// Its port.
    pub port: u16,
    child: Child,
}

impl PrivateRedis {
    /// Starts one on `port`, keeping nothing on disk.
    pub fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server)");
        Self { port, child }
    }

    /// Kills it and starts it again, empty, on the same port.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = Self::start(self.port);
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
