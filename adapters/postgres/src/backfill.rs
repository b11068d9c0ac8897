//! Hashes for events written before the hash chain existed (migration 0010): filled
//! in once, at start-up, stream by stream in version order, walking the
//! `(stream_id, version)` key from where `hash_backfill` says the work got to. Instances
//! starting together compute the same hashes; the `hash IS NULL` guard lets only one
//! write each. When it is done the progress row goes, and later starts do nothing.

use ledger_application::ports::store::ChainHash;
use sqlx::{PgPool, Row};

use crate::guarded::Guarded;
use crate::store::{recorded, COLUMNS};

const BATCH: i64 = 2_000;

/// Gives every event without a hash its `prev_hash` and `hash`; returns how many.
pub async fn backfill_hashes(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let Some(start) = sqlx::query("SELECT stream_id, version FROM hash_backfill LIMIT 1")
        .fetch_optional(Guarded(pool))
        .await?
    else {
        return Ok(0);
    };
    let (mut stream, mut version): (String, i64) = (start.try_get(0)?, start.try_get(1)?);
    let select = format!(
        "SELECT {COLUMNS}, (SELECT p.hash FROM events p \
             WHERE p.stream_id = e.stream_id AND p.version = e.version - 1) \
         FROM events e WHERE (stream_id, version) > ($2, $3) \
         ORDER BY stream_id, version LIMIT $1"
    );
    let mut filled = 0;
    loop {
        let rows = sqlx::query(&select)
            .bind(BATCH)
            .bind(&stream)
            .bind(version)
            .fetch_all(Guarded(pool))
            .await?;
        let Some(last) = rows.last() else {
            sqlx::query("DELETE FROM hash_backfill")
                .execute(Guarded(pool))
                .await?;
            return Ok(filled);
        };
        (stream, version) = (last.try_get(3)?, last.try_get(5)?);
        let (mut positions, mut prevs, mut hashes) = (vec![], vec![], vec![]);
        let mut before: Option<(String, u64, ChainHash)> = None;
        for row in &rows {
            let event = recorded(row)?;
            let prev = match &before {
                _ if event.version == 1 => ChainHash::ZERO,
                Some((s, v, h)) if *s == event.stream_id && *v + 1 == event.version => *h,
                _ => ledger_sql::chain_hash(row.try_get(16)?)?,
            };
            // Rows already hashed (written by this version) keep theirs.
            let stored: Option<Vec<u8>> = row.try_get(15)?;
            let hash = match stored {
                Some(_) => event.hash,
                None => {
                    let hash = event.computed_hash(prev);
                    positions.push(ledger_sql::i64_of(event.cursor.position));
                    prevs.push(prev.0.to_vec());
                    hashes.push(hash.0.to_vec());
                    hash
                }
            };
            before = Some((event.stream_id, event.version, hash));
        }
        filled += sqlx::query(
            "UPDATE events SET prev_hash = t.p, hash = t.h \
             FROM UNNEST($1::bigint[], $2::bytea[], $3::bytea[]) AS t(pos, p, h) \
             WHERE events.position = t.pos AND events.hash IS NULL",
        )
        .bind(&positions)
        .bind(&prevs)
        .bind(&hashes)
        .execute(Guarded(pool))
        .await?
        .rows_affected();
        sqlx::query("UPDATE hash_backfill SET stream_id = $1, version = $2")
            .bind(&stream)
            .bind(version)
            .execute(Guarded(pool))
            .await?;
    }
}
