//! Hashes for events written before the hash chain existed (migration 0007): filled
//! in once, when the file is opened, stream by stream in version order, in the
//! writer's transactions.

use ledger_application::ports::store::ChainHash;
use sqlx::{Row, SqlitePool};

use crate::store::{recorded, COLUMNS};

const BATCH: i64 = 2_000;

/// Gives every event without a hash its `prev_hash` and `hash`; returns how many.
pub async fn backfill_hashes(writer: &SqlitePool) -> Result<u64, sqlx::Error> {
    let select = format!(
        "SELECT {COLUMNS}, (SELECT p.hash FROM events p \
             WHERE p.stream_id = e.stream_id AND p.version = e.version - 1) AS before \
         FROM events e WHERE hash IS NULL ORDER BY stream_id, version LIMIT ?1"
    );
    let mut filled = 0;
    loop {
        let mut tx = writer.begin().await?;
        let rows = sqlx::query(&select).bind(BATCH).fetch_all(&mut *tx).await?;
        if rows.is_empty() {
            return Ok(filled);
        }
        let mut last: Option<(String, u64, ChainHash)> = None;
        for row in &rows {
            let event = recorded(row)?;
            let prev = match &last {
                _ if event.version == 1 => ChainHash::ZERO,
                Some((s, v, h)) if *s == event.stream_id && *v + 1 == event.version => *h,
                _ => ledger_sql::chain_hash(row.try_get("before")?)?,
            };
            let hash = event.computed_hash(prev);
            filled += sqlx::query(
                "UPDATE events SET prev_hash = ?1, hash = ?2 WHERE position = ?3 AND hash IS NULL",
            )
            .bind(prev.0.as_slice())
            .bind(hash.0.as_slice())
            .bind(ledger_sql::i64_of(event.cursor.position))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            last = Some((event.stream_id, event.version, hash));
        }
        tx.commit().await?;
    }
}
