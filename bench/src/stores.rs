//! Store-level measurements: filling streams, replay (in memory and from each store),
//! and rebuilding the projections on PostgreSQL.

use std::sync::Arc;
use std::time::Instant;

use ledger_application::ports::readmodel::PROJECTIONS;
use ledger_application::ports::store::{
    AppendRequest, ChainHash, EventMetadata, EventStore, NewEvent, StreamWrite,
};
use ledger_application::ports::system::Spawner;
use ledger_application::projection::ProjectionRunner;
use ledger_application::repository::Repository;
use ledger_domain::{fold, Account, AccountEvent, AccountId, Aggregate, Currency, Money, Owner};
use ledger_memory::{MemoryEventStore, MemorySnapshotStore};
use ledger_postgres::testing::TestDatabase;
use sqlx::PgPool;

/// The events of an account opened then deposited into `n - 1` times.
pub fn account_events(id: &str, n: usize) -> Vec<AccountEvent> {
    let usd = Currency::parse("USD").expect("USD");
    let account_id = AccountId::parse(id).expect("id");
    let mut events = vec![AccountEvent::Opened {
        account_id: account_id.clone(),
        owner: Owner::parse("Bench").expect("owner"),
        currency: usd,
    }];
    for i in 1..n {
        events.push(AccountEvent::Deposited {
            account_id: account_id.clone(),
            amount: Money::from_minor(100, usd),
            balance: Money::from_minor(100 * i as i64, usd),
            description: None,
        });
    }
    events
}

/// Events of stream `id` after `before`, chained from `head` (moved to the last one's).
fn new_events(
    id: &str,
    before: u64,
    head: &mut ChainHash,
    events: &[AccountEvent],
) -> Vec<NewEvent> {
    let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
    events
        .iter()
        .zip(before + 1..)
        .map(|(e, version)| {
            let enc = Account::encode(e);
            let event = NewEvent {
                event_id: uuid::Uuid::new_v4(),
                event_type: enc.event_type.into(),
                schema_version: enc.schema_version,
                data: enc.data,
                metadata: EventMetadata {
                    actor: "bench".into(),
                    ..Default::default()
                },
                recorded_at: now,
                prev_hash: ChainHash::ZERO,
                hash: ChainHash::ZERO,
            }
            .chained(id, version, *head);
            *head = event.hash;
            event
        })
        .collect()
}

/// Appends a stream of `n` events in batches of 1,000.
pub async fn fill(store: &dyn EventStore, id: &str, n: usize) -> anyhow::Result<()> {
    let events = account_events(id, n);
    let mut head = ChainHash::ZERO;
    for (k, chunk) in events.chunks(1000).enumerate() {
        store
            .append(AppendRequest {
                streams: vec![StreamWrite {
                    stream_id: id.into(),
                    stream_type: "account".into(),
                    expected_version: (k * 1000) as u64,
                    events: new_events(id, (k * 1000) as u64, &mut head, chunk),
                }],
                idempotency: vec![],
            })
            .await?;
    }
    Ok(())
}

/// The long stream on PostgreSQL.
pub async fn fill_long_stream(pool: &PgPool, id: &str, n: usize) -> anyhow::Result<()> {
    fill(&ledger_postgres::PgEventStore::new(pool.clone()), id, n).await?;
    // As autovacuum would within its naptime. Without it the statistics are those of a
    // table where every stream has one event, and the append's generic plan checks the
    // expected version through the (stream_id, recorded_at) index, reading all of this
    // stream's entries (measured: p50 32 ms against 2.4 ms; BENCHMARKS.md).
    sqlx::query("ANALYZE events").execute(pool).await?;
    Ok(())
}

async fn load_rate(name: &str, store: Arc<dyn EventStore>, id: &str) -> anyhow::Result<()> {
    let repo = Repository::new(store, Arc::new(MemorySnapshotStore::new(1)), 0);
    let t = Instant::now();
    let loaded = repo.load_fresh::<Account>(id).await?;
    let s = t.elapsed().as_secs_f64();
    println!("| load a {}-event stream from {name} (decode + fold, no snapshot) | {:.0} events/s ({:.0} ms) |", loaded.version, loaded.version as f64 / s, s * 1000.0);
    Ok(())
}

/// In-memory fold rate and stream loading from each store.
pub async fn replay(pool: &PgPool, n: usize) -> anyhow::Result<()> {
    let events = account_events("fold", 1_000_000);
    let t = Instant::now();
    let mut total = 0i64;
    for _ in 0..5 {
        let state = fold(Account::default(), &events);
        total += state.details().map_or(0, |d| d.balance.minor_units());
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "| in-memory fold (evolve) of 5 x 1,000,000 events | {:.1} M events/s (check {total}) |",
        5.0 / s
    );
    load_rate(
        "PostgreSQL",
        Arc::new(ledger_postgres::PgEventStore::new(pool.clone())),
        "long",
    )
    .await?;
    let dir = std::env::temp_dir().join(format!("ledger-bench-{}", uuid::Uuid::new_v4()));
    let sqlite = ledger_sqlite::open(&format!("sqlite://{}/bench.db", dir.display())).await?;
    fill(&sqlite, "long", n).await?;
    load_rate("SQLite", Arc::new(sqlite), "long").await?;
    let memory = MemoryEventStore::new();
    fill(&memory, "long", n).await?;
    load_rate("memory", Arc::new(memory), "long").await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Rebuilds every projection over `n` events (1,000 streams) on a fresh database.
pub async fn rebuild(n: usize) -> anyhow::Result<()> {
    let (_db, pool) = TestDatabase::migrated(8).await;
    let store = Arc::new(ledger_postgres::PgEventStore::new(pool.clone()));
    let streams = 1000usize;
    let per = n.div_ceil(streams);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..4usize {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for s in (w..streams).step_by(4) {
                fill(store.as_ref(), &format!("r-{s}"), per).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let total = per * streams;
    println!(
        "| write {total} events (1,000-event appends) | {:.0} events/s |",
        total as f64 / t.elapsed().as_secs_f64()
    );
    // As the service builds it (`ledger_bootstrap::core`).
    let spawner: Arc<dyn Spawner> = Arc::new(|task| {
        tokio::spawn(task);
    });
    let runner = Arc::new(
        ProjectionRunner::new(
            store,
            Arc::new(ledger_postgres::PgProjectionStore::new(pool.clone())),
            500,
        )
        .with_spawner(spawner),
    );
    // Each measurement starts after a CHECKPOINT, as every timed phase does: a rebuild
    // writes its tables and indexes to the WAL, and the next would otherwise pay for
    // their checkpoint.
    for p in PROJECTIONS {
        crate::server::settle(&pool).await;
        let t = Instant::now();
        let applied = runner.rebuild(p, &|_| {}).await?;
        println!(
            "| rebuild {p} alone over {applied} events | {:.0} events/s |",
            applied as f64 / t.elapsed().as_secs_f64()
        );
    }
    // As `POST /admin/rebuild-projections` and `ledger projections rebuild` do: the
    // three in one pass over the feed.
    crate::server::settle(&pool).await;
    let all = Instant::now();
    // When the pass last moved: the rest is the finish (indexes, ANALYZE, swap).
    let passed = std::sync::Mutex::new(all);
    let read = runner
        .rebuild_many(&PROJECTIONS, &|_| {
            *passed.lock().expect("not poisoned") = Instant::now();
        })
        .await?;
    let pass = passed.lock().expect("not poisoned").duration_since(all);
    let took = all.elapsed();
    println!(
        "| rebuild all three projections in one pass over {read} events | {:.0} events/s ({:.1} s: the pass {:.1} s, indexes, ANALYZE and swap {:.1} s) |",
        read as f64 / took.as_secs_f64(),
        took.as_secs_f64(),
        pass.as_secs_f64(),
        (took - pass).as_secs_f64()
    );
    Ok(())
}
