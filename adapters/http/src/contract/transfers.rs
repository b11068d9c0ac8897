//! The transfer and batch operations of the contract table (see `mod.rs`).

use ledger_domain::ErrorCode as C;
use serde_json::{json, Value};

use super::params::{
    command_headers, idempotency_only, limit, query, ID_PATTERN, STORED_ID_PATTERN,
};
use super::{Operation, BODY_400, BODY_413, BODY_415, PRECONDITION, QUERY_422};

const TRANSFER_NOT_FOUND: (u16, &[C]) = (404, &[C::TransferNotFound]);

fn path_transfer() -> Value {
    json!({"name": "id", "in": "path", "required": true,
           "description": "The transfer's id.",
           "schema": {"type": "string", "pattern": ID_PATTERN}})
}

/// A post or void: `If-Match` is not evaluated (a transfer is not an account).
fn settle() -> Vec<Value> {
    let mut p = vec![path_transfer()];
    p.extend(idempotency_only());
    p.push(super::params::if_match_unevaluated());
    p
}

/// A batch: its `Idempotency-Key`, and `If-Match` not evaluated.
fn batch() -> Vec<Value> {
    let mut p = idempotency_only();
    p.push(super::params::if_match_unevaluated());
    p
}

fn get_one() -> Vec<Value> {
    vec![path_transfer()]
}

fn list() -> Vec<Value> {
    vec![
        query(
            "account_id",
            json!({"type": "string", "pattern": STORED_ID_PATTERN}),
            "Transfers from or to this account.",
        ),
        query(
            "status",
            json!({"type": "string", "enum": ["pending", "posted", "voided", "expired"]}),
            "Transfers in this status only.",
        ),
        limit(50),
        query(
            "cursor",
            json!({"type": "string", "pattern": "^[0-9]{1,19}$"}),
            "`next_cursor` of the previous page.",
        ),
    ]
}

/// The transfer operations.
pub(super) const OPERATIONS: &[Operation] = &[
    Operation {
        method: "post",
        path: "/transfers",
        id: "createTransfer",
        tag: "transfers",
        params: command_headers,
        errors: &[
            BODY_400,
            (404, &[C::AccountNotFound]),
            (
                409,
                &[C::AccountClosed, C::TransferExists, C::ConcurrencyConflict],
            ),
            PRECONDITION,
            BODY_413,
            BODY_415,
            (
                422,
                &[
                    C::InvalidAmount,
                    C::InsufficientFunds,
                    C::CurrencyMismatch,
                    C::SameAccount,
                    C::ValidationFailed,
                    C::IdempotencyKeyReused,
                ],
            ),
        ],
        open: false,
    },
    Operation {
        method: "post",
        path: "/transfers/{id}/post",
        id: "postTransfer",
        tag: "transfers",
        params: settle,
        errors: &[
            BODY_400,
            TRANSFER_NOT_FOUND,
            (
                409,
                &[
                    C::TransferNotPending,
                    C::TransferExpired,
                    C::ConcurrencyConflict,
                ],
            ),
            BODY_413,
            BODY_415,
            (
                422,
                &[
                    C::InvalidAmount,
                    C::AmountExceedsPending,
                    C::ValidationFailed,
                    C::IdempotencyKeyReused,
                ],
            ),
        ],
        open: false,
    },
    Operation {
        method: "post",
        path: "/transfers/{id}/void",
        id: "voidTransfer",
        tag: "transfers",
        params: settle,
        errors: &[
            BODY_400,
            TRANSFER_NOT_FOUND,
            (
                409,
                &[
                    C::TransferNotPending,
                    C::TransferExpired,
                    C::ConcurrencyConflict,
                ],
            ),
            BODY_413,
            BODY_415,
            (422, &[C::ValidationFailed, C::IdempotencyKeyReused]),
        ],
        open: false,
    },
    Operation {
        method: "get",
        path: "/transfers/{id}",
        id: "getTransfer",
        tag: "transfers",
        params: get_one,
        errors: &[TRANSFER_NOT_FOUND, QUERY_422],
        open: false,
    },
    Operation {
        method: "get",
        path: "/transfers",
        id: "listTransfers",
        tag: "transfers",
        params: list,
        errors: &[QUERY_422],
        open: false,
    },
    Operation {
        method: "post",
        path: "/batches",
        id: "runBatch",
        tag: "batches",
        params: batch,
        errors: &[
            BODY_400,
            (404, &[C::AccountNotFound, C::TransferNotFound]),
            (
                409,
                &[
                    C::AccountExists,
                    C::AccountClosed,
                    C::TransferExists,
                    C::TransferNotPending,
                    C::TransferExpired,
                    C::PendingTransfers,
                    C::ConcurrencyConflict,
                ],
            ),
            BODY_413,
            BODY_415,
            (
                422,
                &[
                    C::ValidationFailed,
                    C::InvalidAmount,
                    C::InvalidCurrency,
                    C::InsufficientFunds,
                    C::BalanceNotZero,
                    C::CurrencyMismatch,
                    C::SameAccount,
                    C::AmountExceedsPending,
                    C::LimitBelowDebt,
                    C::IdempotencyKeyReused,
                ],
            ),
        ],
        open: false,
    },
];
