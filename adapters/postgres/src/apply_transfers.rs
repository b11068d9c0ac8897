//! The transfers view's part of the current-state projection on PostgreSQL: the rows a
//! batch touches are read, folded by the shared `project_transfer`, and upserted.

use std::collections::{BTreeSet, HashMap};

use ledger_application::decode::LedgerEvent;
use ledger_application::ports::readmodel::{ProjectedEvent, ReadModelError};
use ledger_application::transfer_views::{project_transfer, TransferRow};
use ledger_sql::{i64_of, transfer_json, transfer_row};
use sqlx::{Postgres, Transaction};

use crate::projections::{rm_error, PgProjectionStore};
use crate::queries::PgColumns;

impl PgProjectionStore {
    pub(crate) async fn apply_transfers(
        tx: &mut Transaction<'_, Postgres>,
        sfx: &str,
        batch: &[ProjectedEvent],
    ) -> Result<(), ReadModelError> {
        let ids: Vec<&str> = batch
            .iter()
            .filter_map(|p| match &p.event {
                LedgerEvent::Transfer(e) => Some(e.transfer_id().as_str()),
                LedgerEvent::Account(_) | LedgerEvent::Sealed(_) => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let rows = sqlx::query(&format!(
            "SELECT t.view FROM UNNEST($1::text[]) AS k(id) \
             JOIN transfers{sfx} t ON t.transfer_id = k.id"
        ))
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(rm_error)?;
        let mut views: HashMap<String, TransferRow> = HashMap::new();
        for r in &rows {
            let row = transfer_row(&PgColumns(r)).map_err(rm_error)?;
            views.insert(row.view.transfer_id.clone(), row);
        }
        for p in batch {
            let LedgerEvent::Transfer(e) = &p.event else {
                continue;
            };
            let id = e.transfer_id().as_str();
            let at = p.recorded.recorded_at;
            if let Some(row) = project_transfer(views.remove(id), e, p.recorded.cursor.position, at)
            {
                views.insert(id.to_owned(), row);
            }
        }
        let v: Vec<&TransferRow> = views.values().collect();
        sqlx::query(&format!(
            "INSERT INTO transfers{sfx} (transfer_id, from_account_id, to_account_id, status, \
                expires_at, created_position, view) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
                $5::timestamptz[], $6::bigint[], $7::text[]) \
             ON CONFLICT (transfer_id) DO UPDATE SET status = EXCLUDED.status, \
                expires_at = EXCLUDED.expires_at, view = EXCLUDED.view"
        ))
        .bind(
            v.iter()
                .map(|r| r.view.transfer_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            v.iter()
                .map(|r| r.view.from_account_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            v.iter()
                .map(|r| r.view.to_account_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(v.iter().map(|r| r.view.status.as_str()).collect::<Vec<_>>())
        .bind(v.iter().map(|r| r.view.expires_at).collect::<Vec<_>>())
        .bind(
            v.iter()
                .map(|r| i64_of(r.created_position))
                .collect::<Vec<_>>(),
        )
        .bind(v.iter().map(|r| transfer_json(r)).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(rm_error)?;
        Ok(())
    }
}
