//! The relay's checkpoint on SQLite: one row, moved only from where the mover
//! found it.

use ledger_application::ports::readmodel::{ProjectionStatus, ReadModelError};
use ledger_application::ports::store::FeedCursor;
use ledger_sql::i64_of;
use sqlx::SqlitePool;

use crate::projections::rm_error;

const NAME: &str = ledger_sql::RELAY;

pub(crate) async fn status(pool: &SqlitePool) -> Result<Option<ProjectionStatus>, ReadModelError> {
    let row: Option<(i64, i64, Option<String>)> =
        sqlx::query_as("SELECT tx_id, position, last_error FROM relay_checkpoints WHERE name = ?1")
            .bind(NAME)
            .fetch_optional(pool)
            .await
            .map_err(rm_error)?;
    Ok(row.map(|(tx, position, error)| ledger_sql::relay_status(tx, position, error)))
}

pub(crate) async fn move_to(
    pool: &SqlitePool,
    from: FeedCursor,
    to: FeedCursor,
    error: Option<String>,
) -> Result<bool, ReadModelError> {
    let moved = crate::execute_in_turn(
        pool,
        sqlx::query(
            "UPDATE relay_checkpoints SET tx_id = ?4, position = ?5, last_error = ?6 \
             WHERE name = ?1 AND tx_id = ?2 AND position = ?3",
        )
        .bind(NAME)
        .bind(i64_of(from.tx))
        .bind(i64_of(from.position))
        .bind(i64_of(to.tx))
        .bind(i64_of(to.position))
        .bind(&error),
    )
    .await
    .map_err(rm_error)?
    .rows_affected();
    if moved == 1 || from != FeedCursor::START {
        return Ok(moved == 1);
    }
    // The first move: the row does not exist yet (or another relay made it first).
    let inserted = crate::execute_in_turn(
        pool,
        sqlx::query(
            "INSERT INTO relay_checkpoints (name, tx_id, position, last_error) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(NAME)
        .bind(i64_of(to.tx))
        .bind(i64_of(to.position))
        .bind(&error),
    )
    .await
    .map_err(rm_error)?
    .rows_affected();
    Ok(inserted == 1)
}
