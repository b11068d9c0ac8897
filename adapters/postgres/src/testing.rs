//! A freshly created, uniquely named PostgreSQL database per test, dropped afterwards
//! (even when the test panics). The server comes from `LEDGER_TEST_DATABASE_URL`
//! (default `postgres://postgres:postgres@127.0.0.1:5432/postgres`); when it cannot be
//! reached the test fails loudly: it never skips.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};

const DEFAULT_URL: &str = "postgres://postgres:postgres@127.0.0.1:5432/postgres";

/// A test database; dropped with `WITH (FORCE)` when this value is dropped.
pub struct TestDatabase {
    name: String,
    admin: PgConnectOptions,
    /// Options to connect to the test database.
    pub options: PgConnectOptions,
    /// Its URL, for processes launched by the test.
    pub url: String,
}

/// The server the test databases are made on (`LEDGER_TEST_DATABASE_URL`).
pub fn admin_url() -> String {
    std::env::var("LEDGER_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

impl TestDatabase {
    /// Creates an empty database with a unique name.
    ///
    /// # Panics
    /// When the PostgreSQL server cannot be reached: tests needing it must not pass without it.
    pub async fn create() -> Self {
        Self::create_with("").await
    }

    /// [`Self::create`] with `CREATE DATABASE` options, such as a collation.
    ///
    /// # Panics
    /// As [`Self::create`].
    pub async fn create_with(options: &str) -> Self {
        let url = admin_url();
        let admin = PgConnectOptions::from_str(&url)
            .unwrap_or_else(|e| panic!("LEDGER_TEST_DATABASE_URL {url:?} is not valid: {e}"));
        let name = format!("ledger_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin.connect().await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is needed for this test and is not reachable at {url}: {e}. \
                 Run `bash scripts/test.sh`, which starts it."
            )
        });
        sqlx::query(&format!("CREATE DATABASE {name} {options}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let _ = conn.close().await;
        let base = url.split('?').next().unwrap_or(&url);
        let cut = base.rfind('/').unwrap_or(base.len());
        let db_url = format!("{}/{name}", &base[..cut]);
        Self {
            options: admin.clone().database(&name),
            url: db_url,
            admin,
            name,
        }
    }

    /// Creates a database and applies the migrations; returns it with a pool.
    pub async fn migrated(max_connections: u32) -> (Self, PgPool) {
        Self::migrated_with(max_connections, "").await
    }

    /// [`Self::migrated`] with `CREATE DATABASE` options.
    pub async fn migrated_with(max_connections: u32, options: &str) -> (Self, PgPool) {
        let db = Self::create_with(options).await;
        let pool = crate::pool_with(db.options.clone(), max_connections);
        crate::migrate(&pool)
            .await
            .unwrap_or_else(|e| panic!("migrations failed: {e}"));
        (db, pool)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The plan PostgreSQL would choose for `sql` when sequential scans are expensive: a
/// test's tiny tables would be scanned whatever the indexes, so this asks which index
/// a large table would use.
pub async fn plan_without_seqscan(pool: &PgPool, sql: &str) -> String {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .expect("set enable_seqscan");
    let rows: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
        .fetch_all(&mut *tx)
        .await
        .expect("explain");
    rows.join("\n")
}

/// The plan PostgreSQL chooses for the first execution of the prepared statement `sql`
/// with `args` (SQL literals, comma-separated), as a server's first executions run it.
pub async fn plan_of_prepared(pool: &PgPool, sql: &str, args: &str) -> String {
    plan_after_executions(pool, sql, args, 0).await
}

/// The plan PostgreSQL uses for `sql` prepared on one connection after `executions`
/// runs of it with `args` (it may have switched from a custom plan per call to a
/// generic one, whose conditions show `$1`).
pub async fn plan_after_executions(
    pool: &PgPool,
    sql: &str,
    args: &str,
    executions: usize,
) -> String {
    let mut conn = pool.acquire().await.expect("connection");
    plan_on(&mut conn, sql, args, executions).await
}

/// The generic plan of `sql` (one made without the values of `args`), which
/// PostgreSQL keeps for a prepared statement once it costs no more than the custom
/// plans of its first five calls did.
pub async fn generic_plan(pool: &PgPool, sql: &str, args: &str) -> String {
    let mut conn = pool.acquire().await.expect("connection");
    sqlx::query("SET plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await
        .expect("set plan_cache_mode");
    let plan = plan_on(&mut conn, sql, args, 0).await;
    sqlx::query("RESET plan_cache_mode")
        .execute(&mut *conn)
        .await
        .expect("reset plan_cache_mode");
    plan
}

async fn plan_on(
    conn: &mut sqlx::PgConnection,
    sql: &str,
    args: &str,
    executions: usize,
) -> String {
    sqlx::query(&format!("PREPARE planned AS {sql}"))
        .execute(&mut *conn)
        .await
        .expect("prepare");
    for _ in 0..executions {
        sqlx::query(&format!("EXECUTE planned({args})"))
            .execute(&mut *conn)
            .await
            .expect("execute");
    }
    let rows: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN EXECUTE planned({args})"))
        .fetch_all(&mut *conn)
        .await
        .expect("explain");
    sqlx::query("DEALLOCATE planned")
        .execute(&mut *conn)
        .await
        .expect("deallocate");
    rows.join("\n")
}

/// The lists built from their filters, for plan tests.
pub use crate::view_sql::{accounts_query, audit_query, daily_query};

/// The audit log's queries by stream, by owner and by positions, and the transfers
/// view's by account, for plan tests.
pub use crate::queries::{
    AUDIT_BETWEEN, AUDIT_OF_OWNER, AUDIT_OF_STREAM, AUDIT_OF_STREAM_ALONE,
    TRANSFERS_OF_ACCOUNT_ALONE,
};

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Dropping needs async IO; do it on a thread of its own so it works inside or
        // outside a runtime, and after a panic.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = admin.connect().await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        });
        let _ = handle.join();
    }
}

/// The queries of the sessions on `database` that sit inside a transaction doing
/// nothing (`idle in transaction`): none should be the service's.
pub async fn idle_in_transaction(admin: &PgPool, database: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT query FROM pg_stat_activity \
         WHERE datname = $1 AND state LIKE 'idle in transaction%'",
    )
    .bind(database)
    .fetch_all(admin)
    .await
    .expect("pg_stat_activity")
}
