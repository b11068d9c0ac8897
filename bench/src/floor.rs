//! The database floor: single-row INSERT commits into a copy of the `events` table,
//! at a given concurrency, and the single-client commit latency.

use std::time::{Duration, Instant};

use sqlx::PgPool;

/// Commits per second with `clients` connections, and single-client p50 latency (ms).
pub async fn measure(
    pool: &PgPool,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<(f64, f64)> {
    // Exactly the events table's shape: columns, defaults, constraints and indexes.
    sqlx::query("CREATE TABLE IF NOT EXISTS floor_events (LIKE events INCLUDING ALL)")
        .execute(pool)
        .await?;
    let owned = pool.clone();
    let insert = move |stream: String, version: i64| {
        let pool = owned.clone();
        async move {
            sqlx::query(
                "INSERT INTO floor_events (stream_id, stream_type, version, event_id, event_type, schema_version, data, metadata, recorded_at) \
                 VALUES ($1, 'account', $2, $3, 'MoneyDeposited', 2, $4::json, $5::jsonb, now())",
            )
            .bind(stream)
            .bind(version)
            .bind(uuid::Uuid::new_v4())
            .bind(r#"{"account_id":"a","currency":"USD","amount":"1.00","balance":"1.00"}"#)
            .bind(r#"{"actor":"bench","request_id":"r"}"#)
            .execute(&pool)
            .await
        }
    };
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let insert = insert.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0i64;
            while Instant::now() < deadline {
                n += 1;
                if insert(format!("floor-{c}"), n).await.is_err() {
                    break;
                }
            }
            n
        }));
    }
    let mut commits = 0i64;
    for t in tasks {
        commits += t.await?;
    }
    let rate = commits as f64 / start.elapsed().as_secs_f64();
    let mut lat = Vec::new();
    for v in 1..=500 {
        let t = Instant::now();
        insert("floor-single".into(), v).await?;
        lat.push(t.elapsed());
    }
    lat.sort_unstable();
    // Gone before the service is measured: its autovacuum would run during the spread.
    sqlx::query("DROP TABLE floor_events").execute(pool).await?;
    Ok((rate, lat[lat.len() / 2].as_secs_f64() * 1000.0))
}
