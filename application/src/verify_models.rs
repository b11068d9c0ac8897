//! Pass 4 of `ledger verify`: the accounts view against a fresh fold of the events
//! (the transfers view: `verify_transfers.rs`; the analytics: `verify_analytics.rs`;
//! the audit log: `verify_audit.rs`; each event decoded once for the four folds:
//! [`decode_for_folds`]).
//!
//! The fold takes the events up to the current-state projection's checkpoint as it
//! was when verification started, through the projection's own function
//! (`project_account`). A row the projection moved past that point meanwhile (a
//! ledger in use) is skipped; any other difference is a finding.

use std::collections::HashMap;

use ledger_domain::integrity::SEAL_STREAM_TYPE;
use ledger_domain::{Account, Aggregate, Currency};

use crate::decode::{FeedDecodeError, FeedDecoder, LedgerEvent};
use crate::ports::filters::AccountFilter;
use crate::ports::readmodel::{Projection, ProjectionStore, ReadModels};
use crate::ports::store::{EventStore, FeedCursor, RecordedEvent, StoreError};
use crate::queries::QueryError;
use crate::verify::{Finding, Pass};
use crate::verify_arithmetic::{overdrawn, unexplained};
use crate::verify_moved::{keep_unexplained, Explained};
use crate::views::{project_account, AccountView};

/// An event as the read-model folds take it: decoded, with its account's (or
/// transfer's) currency; or why it cannot be read.
pub(crate) type Decoded = Result<(LedgerEvent, Option<Currency>), String>;

/// Decodes one event for the folds; only the store failing (reading a stream's opening
/// event) is an error.
pub(crate) async fn decode_for_folds(
    decoder: &mut FeedDecoder,
    store: &dyn EventStore,
    e: &RecordedEvent,
) -> Result<Decoded, StoreError> {
    let decoded = match decoder.decode(store, e).await {
        Ok(event) => match decoder.currency_of(store, &e.stream_id, &event).await {
            Ok(currency) => Ok((event, currency)),
            Err(why) => Err(why),
        },
        Err(why) => Err(why),
    };
    match decoded {
        Ok(decoded) => Ok(Ok(decoded)),
        Err(FeedDecodeError::Store(s)) => Err(s),
        Err(why) => Ok(Err(why.to_string())),
    }
}

/// An event this version cannot read: a finding wherever it is in the feed (a
/// projection stops at it, so it may lie past every checkpoint the folds compare up to).
pub(crate) fn unreadable(e: &RecordedEvent, decoded: &Decoded) -> Option<Finding> {
    // A seal that cannot be read is pass 3's finding.
    if e.stream_type == SEAL_STREAM_TYPE {
        return None;
    }
    let why = decoded.as_ref().err()?;
    Some(Finding {
        pass: Pass::ReadModels,
        stream_id: Some(e.stream_id.clone()),
        version: Some(e.version),
        position: Some(e.cursor.position),
        detail: format!("the event cannot be read: {why}"),
    })
}

/// The accounts as the events up to a checkpoint give them.
pub(crate) struct AccountsFold {
    until: FeedCursor,
    /// The last event read, of any stream.
    read_up_to: FeedCursor,
    rows: HashMap<String, AccountView>,
    /// Accounts with events past the checkpoint, folded on from their row: their
    /// figures are checked too (events appended to a stopped store are past it), but
    /// the rows compared with the view stay at the checkpoint.
    ahead: HashMap<String, AccountView>,
}

/// A projection's checkpoint now (the start when it has none).
pub(crate) async fn checkpoint(
    checkpoints: &dyn ProjectionStore,
    projection: Projection,
) -> Result<FeedCursor, QueryError> {
    let name = projection.as_str();
    Ok(checkpoints
        .statuses()
        .await?
        .into_iter()
        .find(|s| s.name == name)
        .map_or(FeedCursor::START, |s| s.position))
}

/// A projection stopped on an event it cannot apply: a finding (the events after its
/// checkpoint are compared with nothing, and a forged one that fails to apply, such as
/// a leg in another currency than its account, would otherwise pass unseen).
pub(crate) async fn failed_projections(
    checkpoints: &dyn ProjectionStore,
    findings: &mut Vec<Finding>,
) -> Result<(), QueryError> {
    use crate::ports::readmodel::ProjectionState;
    for s in checkpoints.statuses().await? {
        if s.state == ProjectionState::Failed {
            let why = s.last_error.unwrap_or_default();
            findings.push(Finding {
                pass: Pass::ReadModels,
                stream_id: None,
                version: None,
                position: Some(s.position.position),
                detail: format!(
                    "the {} projection failed after this position: {why}",
                    s.name
                ),
            });
        }
    }
    Ok(())
}

impl AccountsFold {
    /// A fold up to the current-state projection's checkpoint now.
    pub(crate) async fn start(checkpoints: &dyn ProjectionStore) -> Result<Self, QueryError> {
        Ok(Self {
            until: checkpoint(checkpoints, Projection::CurrentState).await?,
            read_up_to: FeedCursor::START,
            rows: HashMap::new(),
            ahead: HashMap::new(),
        })
    }

    /// The checkpoint the fold stops at.
    pub(crate) fn until(&self) -> FeedCursor {
        self.until
    }

    /// Folds one event (if it is an account's, up to the checkpoint).
    pub(crate) fn apply(
        &mut self,
        e: &RecordedEvent,
        decoded: &Decoded,
        findings: &mut Vec<Finding>,
    ) {
        self.read_up_to = self.read_up_to.max(e.cursor);
        if e.stream_type != Account::STREAM_TYPE {
            return;
        }
        let finding = |detail: String| Finding {
            pass: Pass::ReadModels,
            stream_id: Some(e.stream_id.clone()),
            version: Some(e.version),
            position: Some(e.cursor.position),
            detail,
        };
        // One that cannot be read is a finding of its own ([`unreadable`]).
        let Ok((LedgerEvent::Account(event), _)) = decoded else {
            return;
        };
        let past = e.cursor > self.until;
        let row = match (past, self.ahead.remove(&e.stream_id)) {
            (true, Some(ahead)) => Some(ahead),
            (true, None) => self.rows.get(&e.stream_id).cloned(),
            (false, _) => self.rows.remove(&e.stream_id),
        };
        // Schema version 1 (the Go design's floats): its recorded balances need not
        // chain exactly (float drift), so neither need its upcast amounts.
        let upcast = e.schema_version == 1;
        let checked = row.as_ref().filter(|_| !upcast);
        if let Some(why) = checked.and_then(|r| unexplained(r, event)) {
            findings.push(finding(why));
        }
        match project_account(row, event, e.version, e.recorded_at) {
            Ok(Some(row)) => {
                if let Some(why) = Some(&row)
                    .filter(|_| !upcast)
                    .and_then(|r| overdrawn(r, event))
                {
                    findings.push(finding(why));
                }
                match past {
                    true => self.ahead.insert(e.stream_id.clone(), row),
                    false => self.rows.insert(e.stream_id.clone(), row),
                };
            }
            Ok(None) => {}
            Err(why) => findings.push(finding(format!("the event cannot be applied: {why}"))),
        }
    }

    /// Compares each folded account with its row; returns how many were compared.
    /// Over the whole feed (`stream` None), the view is read a page at a time (one
    /// query per page, not per account), a row no event opened is a finding too, and
    /// so is a checkpoint past the last event (events removed from the store's end);
    /// for one stream's check, its row is read by its id, a row whose stream holds no
    /// event a finding.
    pub(crate) async fn compare(
        mut self,
        (store, models, checkpoints): (&dyn EventStore, &dyn ReadModels, &dyn ProjectionStore),
        findings: &mut Vec<Finding>,
        stream: Option<&str>,
    ) -> Result<u64, QueryError> {
        let folded = self.rows.len() as u64;
        let whole_feed = stream.is_none();
        if whole_feed && self.until > self.read_up_to {
            findings.push(ahead_of_the_store(
                Projection::CurrentState,
                self.until,
                self.read_up_to,
            ));
        }
        // Each difference, and whether the projection moving past the checkpoint since
        // the fold started could explain it (a newer row, or one opened since: then only
        // if the account's stream has an event past the checkpoint). Whether it moved is
        // asked after every row is read: a row read after a projector's commit is newer
        // than a checkpoint read before it.
        let mut found: Vec<(Finding, Explained)> = Vec::new();
        let check = |row: &AccountView, expected: Option<AccountView>| {
            let (detail, explained) = match expected {
                Some(expected) if *row == expected => return None,
                Some(expected) => (
                    differences("accounts", row, &expected),
                    match row.version > expected.version {
                        true => Explained::IfStreamMoved {
                            after_version: expected.version,
                        },
                        false => Explained::Never,
                    },
                ),
                None => (
                    "the accounts view holds an account no event opened".into(),
                    Explained::IfStreamMoved { after_version: 0 },
                ),
            };
            Some((
                finding(&row.account_id, Some(row.version), detail),
                explained,
            ))
        };
        let (mut after, mut more) = (None, whole_feed);
        while more {
            let page = models
                .accounts(AccountFilter {
                    after: after.take(),
                    limit: VIEW_PAGE,
                    ..AccountFilter::default()
                })
                .await?;
            more = page.len() == VIEW_PAGE;
            for row in page {
                found.extend(check(&row, self.rows.remove(&row.account_id)));
                after = Some(row.account_id);
            }
        }
        if let Some(id) = stream.filter(|id| !self.rows.contains_key(*id)) {
            // No event of the stream folded (none left, or not an account's): its row,
            // if any, has no events behind it.
            if let Some(row) = models.account(id).await? {
                found.extend(check(&row, None));
            }
        }
        let mut rest: Vec<(String, AccountView)> = self.rows.into_iter().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, expected) in rest {
            match models.account(&id).await? {
                // Read after the pages: it may have been opened since (a ledger in use).
                Some(row) => found.extend(check(&row, Some(expected))),
                None => {
                    let detail = "the account is missing from the accounts view".to_owned();
                    found.push((finding(&id, None, detail), Explained::Never));
                }
            }
        }
        keep_unexplained((store, checkpoints), self.until, found, findings).await?;
        Ok(folded)
    }
}

/// A projection's checkpoint past the last event the store holds: events removed from
/// the store's end (or read models from a later moment).
pub(crate) fn ahead_of_the_store(
    projection: Projection,
    until: FeedCursor,
    read_up_to: FeedCursor,
) -> Finding {
    Finding {
        pass: Pass::ReadModels,
        stream_id: None,
        version: None,
        position: Some(until.position),
        detail: format!(
            "the {} projection has applied events up to position {}, but the store's \
             events end at position {}: events were removed from the store, or the read \
             models come from a later moment",
            projection.as_str(),
            until.position,
            read_up_to.position
        ),
    }
}

/// Accounts read from the view per query.
const VIEW_PAGE: usize = 1_000;

pub(crate) fn finding(stream_id: &str, version: Option<u64>, detail: String) -> Finding {
    Finding {
        pass: Pass::ReadModels,
        stream_id: Some(stream_id.to_owned()),
        version,
        position: None,
        detail,
    }
}

/// The fields that differ, as "field: view ... , events ..." (a row's nested `view`
/// object, as a transfer row has, is read field by field).
pub(crate) fn differences<T: serde::Serialize>(name: &str, row: &T, expected: &T) -> String {
    let flat = |v: serde_json::Result<serde_json::Value>| match v {
        Ok(serde_json::Value::Object(mut m)) => {
            if let Some(serde_json::Value::Object(view)) = m.remove("view") {
                m.extend(view);
            }
            Some(m)
        }
        _ => None,
    };
    let (Some(a), Some(b)) = (
        flat(serde_json::to_value(row)),
        flat(serde_json::to_value(expected)),
    ) else {
        return format!("the {name} view differs from the events");
    };
    let fields: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, v)| {
            format!(
                "{k}: view {v}, events {}",
                b.get(k).unwrap_or(&serde_json::Value::Null)
            )
        })
        .collect();
    format!(
        "the {name} view differs from the events ({})",
        fields.join("; ")
    )
}
