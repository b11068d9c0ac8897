//! The database floor: single-row INSERT commits into a copy of the `events` table,
//! at a given concurrency, and the single-client commit latency.

use std::time::{Duration, Instant};

use sqlx::PgPool;

/// Which table the floor writes, and which streams its rows belong to.
#[derive(Debug, Clone, Copy)]
pub enum Streams {
    /// An empty table; one stream per connection, each written in order.
    PerConnection,
    /// A copy of the events table as it is now (same rows, same indexes, so the same
    /// size as the table the service writes), and rows over the spread scenario's
    /// accounts `s-0 .. s-{n-1}` in its order: the same index insertion points.
    Spread(usize),
}

const INSERT: &str = "INSERT INTO floor_events (stream_id, stream_type, version, event_id, \
     event_type, schema_version, data, metadata, recorded_at) \
     VALUES ($1, 'account', $2, $3, 'MoneyDeposited', 2, $4::json, $5::jsonb, now())";

async fn insert(pool: &PgPool, stream: &str, version: i64) -> Result<(), sqlx::Error> {
    sqlx::query(INSERT)
        .bind(stream)
        .bind(version)
        .bind(uuid::Uuid::new_v4())
        .bind(r#"{"account_id":"a","currency":"USD","amount":"1.00","balance":"1.00"}"#)
        .bind(r#"{"actor":"bench","request_id":"r"}"#)
        .execute(pool)
        .await
        .map(|_| ())
}

async fn fresh_table(pool: &PgPool, copy_events: bool) -> Result<(), sqlx::Error> {
    sqlx::query("DROP TABLE IF EXISTS floor_events")
        .execute(pool)
        .await?;
    // Exactly the events table's shape: columns, defaults, constraints and indexes.
    sqlx::query("CREATE TABLE floor_events (LIKE events INCLUDING ALL)")
        .execute(pool)
        .await?;
    if copy_events {
        sqlx::query("INSERT INTO floor_events OVERRIDING SYSTEM VALUE SELECT * FROM events")
            .execute(pool)
            .await?;
        // New rows take positions after the copied ones, as in the events table.
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('floor_events', 'position'), \
             coalesce((SELECT max(position) FROM floor_events), 0) + 1, false)",
        )
        .execute(pool)
        .await?;
        // Vacuumed now, so that no autovacuum of the copy runs while the floor is
        // measured (which would lower the floor).
        sqlx::query("VACUUM (ANALYZE) floor_events")
            .execute(pool)
            .await?;
    }
    // Starts from the same place as every other timed phase (see `settle` in main).
    sqlx::query("CHECKPOINT").execute(pool).await?;
    Ok(())
}

/// Commits per second with `clients` connections into a fresh table.
pub async fn rate(
    pool: &PgPool,
    clients: usize,
    duration: Duration,
    streams: Streams,
) -> anyhow::Result<f64> {
    fresh_table(pool, matches!(streams, Streams::Spread(_))).await?;
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while Instant::now() < deadline {
                let (stream, version) = match streams {
                    Streams::PerConnection => (format!("floor-{c}"), n + 1),
                    // A version unique to this connection and turn, above any the
                    // service wrote: no two rows share a (stream, version) key.
                    Streams::Spread(k) => (
                        format!("s-{}", crate::load::spread_account(c, n, k)),
                        1_000_000_000 + n * clients + c,
                    ),
                };
                n += 1;
                // A floor with failed inserts would not be a floor: stop the run.
                insert(&pool, &stream, version as i64).await?;
            }
            anyhow::Ok(n)
        }));
    }
    let mut commits = 0usize;
    for t in tasks {
        commits += t.await??;
    }
    let rate = commits as f64 / start.elapsed().as_secs_f64();
    // Gone before the service is measured: its autovacuum would run meanwhile.
    sqlx::query("DROP TABLE floor_events").execute(pool).await?;
    Ok(rate)
}

/// Single-client commit latencies of `n` commits, then the table is dropped: its
/// autovacuum would otherwise run while the service is measured.
pub async fn latencies(pool: &PgPool, n: usize) -> anyhow::Result<Vec<Duration>> {
    fresh_table(pool, false).await?;
    let mut lat = Vec::with_capacity(n);
    for v in 1..=n {
        let t = Instant::now();
        insert(pool, "floor-single", v as i64).await?;
        lat.push(t.elapsed());
    }
    sqlx::query("DROP TABLE floor_events").execute(pool).await?;
    Ok(lat)
}
