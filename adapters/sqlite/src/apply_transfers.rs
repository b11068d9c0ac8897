//! The transfers view's part of the current-state projection on SQLite: each row a
//! batch touches is read once, folded by the shared `project_transfer`, and written.

use std::collections::HashMap;

use ledger_application::decode::LedgerEvent;
use ledger_application::ports::readmodel::{ProjectedEvent, ReadModelError};
use ledger_application::transfer_views::{project_transfer, TransferRow};
use ledger_sql::{i64_of, transfer_json, transfer_row};

use crate::projections::{rm_error, Tx};
use crate::queries::{micros, one};

pub(crate) async fn apply_transfers(
    tx: &mut Tx<'_>,
    sfx: &str,
    batch: &[ProjectedEvent],
) -> Result<(), ReadModelError> {
    let mut touched: HashMap<&str, Option<TransferRow>> = HashMap::new();
    for p in batch {
        let LedgerEvent::Transfer(e) = &p.event else {
            continue;
        };
        let id = e.transfer_id().as_str();
        let row = match touched.remove(id) {
            Some(row) => row,
            None => {
                let row = sqlx::query(&format!(
                    "SELECT view FROM transfers{sfx} WHERE transfer_id = ?1"
                ))
                .bind(id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(rm_error)?;
                one(row.as_ref(), transfer_row)?
            }
        };
        let at = p.recorded.recorded_at;
        touched.insert(id, project_transfer(row, e, p.recorded.cursor.position, at));
    }
    for r in touched.into_values().flatten() {
        sqlx::query(&format!(
            "INSERT OR REPLACE INTO transfers{sfx} (transfer_id, from_account_id, to_account_id, \
                status, expires_at, created_position, view) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))
        .bind(&r.view.transfer_id)
        .bind(&r.view.from_account_id)
        .bind(&r.view.to_account_id)
        .bind(r.view.status.as_str())
        .bind(r.view.expires_at.map(micros))
        .bind(i64_of(r.created_position))
        .bind(transfer_json(&r))
        .execute(&mut **tx)
        .await
        .map_err(rm_error)?;
    }
    Ok(())
}
