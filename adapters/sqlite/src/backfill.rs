//! Hashes for events written before the hash chain existed (migration 0007): filled
//! in once, when the file is opened, stream by stream in version order, walking the
//! `(stream_id, version)` key from where `hash_backfill` says the work got to, in the
//! writer's transactions. When it is done the progress row goes.

use ledger_application::ports::store::ChainHash;
use sqlx::{Row, SqlitePool};

use crate::store::{recorded, COLUMNS};

const BATCH: i64 = 2_000;

/// Gives every event without a hash its `prev_hash` and `hash`; returns how many.
pub async fn backfill_hashes(writer: &SqlitePool) -> Result<u64, sqlx::Error> {
    let select = format!(
        "SELECT {COLUMNS}, (SELECT p.hash FROM events p \
             WHERE p.stream_id = e.stream_id AND p.version = e.version - 1) AS before \
         FROM events e WHERE (stream_id, version) > (?2, ?3) \
         ORDER BY stream_id, version LIMIT ?1"
    );
    let mut filled = 0;
    loop {
        let mut tx = writer.begin().await?;
        let Some(at) = sqlx::query("SELECT stream_id, version FROM hash_backfill LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(filled);
        };
        let (stream, version): (String, i64) = (at.try_get(0)?, at.try_get(1)?);
        let rows = sqlx::query(&select)
            .bind(BATCH)
            .bind(&stream)
            .bind(version)
            .fetch_all(&mut *tx)
            .await?;
        let Some(last) = rows.last() else {
            sqlx::query("DELETE FROM hash_backfill")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(filled);
        };
        let (last_stream, last_version): (String, i64) =
            (last.try_get("stream_id")?, last.try_get("version")?);
        let mut before: Option<(String, u64, ChainHash)> = None;
        for row in &rows {
            let event = recorded(row)?;
            let prev = match &before {
                _ if event.version == 1 => ChainHash::ZERO,
                Some((s, v, h)) if *s == event.stream_id && *v + 1 == event.version => *h,
                _ => ledger_sql::chain_hash(row.try_get("before")?)?,
            };
            let stored: Option<Vec<u8>> = row.try_get("hash")?;
            let hash = match stored {
                Some(_) => event.hash,
                None => {
                    let hash = event.computed_hash(prev);
                    filled += sqlx::query(
                        "UPDATE events SET prev_hash = ?1, hash = ?2 \
                         WHERE position = ?3 AND hash IS NULL",
                    )
                    .bind(prev.0.as_slice())
                    .bind(hash.0.as_slice())
                    .bind(ledger_sql::i64_of(event.cursor.position))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    hash
                }
            };
            before = Some((event.stream_id, event.version, hash));
        }
        sqlx::query("UPDATE hash_backfill SET stream_id = ?1, version = ?2")
            .bind(last_stream)
            .bind(last_version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
}
