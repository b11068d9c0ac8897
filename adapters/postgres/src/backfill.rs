//! Hashes for events written before the hash chain existed (migration 0010): filled
//! in once, at start-up, stream by stream in version order. Instances starting together
//! compute the same hashes; the `hash IS NULL` guard lets only one write each.

use ledger_application::ports::store::ChainHash;
use sqlx::{PgPool, Row};

use crate::store::{recorded, COLUMNS};

const BATCH: i64 = 2_000;

/// Gives every event without a hash its `prev_hash` and `hash`; returns how many.
pub async fn backfill_hashes(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let select = format!(
        "SELECT {COLUMNS}, (SELECT p.hash FROM events p \
             WHERE p.stream_id = e.stream_id AND p.version = e.version - 1) \
         FROM events e WHERE hash IS NULL ORDER BY stream_id, version LIMIT $1"
    );
    let mut filled = 0;
    loop {
        let rows = sqlx::query(&select).bind(BATCH).fetch_all(pool).await?;
        if rows.is_empty() {
            return Ok(filled);
        }
        let (mut positions, mut prevs, mut hashes) = (vec![], vec![], vec![]);
        let mut last: Option<(String, u64, ChainHash)> = None;
        for row in &rows {
            let event = recorded(row)?;
            let prev = match &last {
                _ if event.version == 1 => ChainHash::ZERO,
                Some((s, v, h)) if *s == event.stream_id && *v + 1 == event.version => *h,
                _ => ledger_sql::chain_hash(row.try_get(16)?)?,
            };
            let hash = event.computed_hash(prev);
            positions.push(ledger_sql::i64_of(event.cursor.position));
            prevs.push(prev.0.to_vec());
            hashes.push(hash.0.to_vec());
            last = Some((event.stream_id, event.version, hash));
        }
        filled += sqlx::query(
            "UPDATE events SET prev_hash = t.p, hash = t.h \
             FROM UNNEST($1::bigint[], $2::bytea[], $3::bytea[]) AS t(pos, p, h) \
             WHERE events.position = t.pos AND events.hash IS NULL",
        )
        .bind(&positions)
        .bind(&prevs)
        .bind(&hashes)
        .execute(pool)
        .await?
        .rows_affected();
    }
}
