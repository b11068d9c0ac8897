//! What the generated OpenAPI document cannot learn from the handlers' types: each
//! operation's name, tag, parameters with their constraints, and every error it can
//! answer (as `application/problem+json`, with its codes). One table, checked by a test
//! against the routes the document lists, so a new route cannot go undescribed.

mod batch_schema;
pub(crate) mod params;
mod streams;
mod transfers;

pub use batch_schema::batch_operations;

use ledger_domain::ErrorCode as C;
use serde_json::Value;

use params::*;
pub use params::{
    currencies, AMOUNT_PATTERN, ID_PATTERN, IF_MATCH_PATTERN, LIMIT_PATTERN, OWNER_PATTERN,
    TEXT_PATTERN,
};

/// One operation: its name, tag, parameters and error answers.
pub struct Operation {
    /// `get`, `post`.
    pub method: &'static str,
    /// The path template.
    pub path: &'static str,
    /// A client generator's method name.
    pub id: &'static str,
    /// Its group.
    pub tag: &'static str,
    /// Its parameters (path, query, header).
    pub params: fn() -> Vec<Value>,
    /// Error statuses with their codes, beyond those every operation can answer.
    pub errors: &'static [(u16, &'static [C])],
    /// Served without a token (`/health`, `/ready`, `/metrics`, `/openapi.json`).
    pub open: bool,
}

pub(crate) const BODY_400: (u16, &[C]) = (400, &[C::MalformedRequest]);
pub(crate) const BODY_413: (u16, &[C]) = (413, &[C::PayloadTooLarge]);
pub(crate) const BODY_415: (u16, &[C]) = (415, &[C::UnsupportedMediaType]);
pub(crate) const PRECONDITION: (u16, &[C]) = (412, &[C::VersionMismatch]);
pub(crate) const NOT_FOUND: (u16, &[C]) = (404, &[C::AccountNotFound]);
pub(crate) const QUERY_422: (u16, &[C]) = (422, &[C::ValidationFailed]);
/// An admin POST's 422: a field or parameter, or an idempotency key another request used.
const ADMIN_POST_422: (u16, &[C]) = (422, &[C::ValidationFailed, C::IdempotencyKeyReused]);

/// Every operation of the API.
pub fn operations() -> impl Iterator<Item = &'static Operation> {
    OPERATIONS
        .iter()
        .chain(transfers::OPERATIONS)
        .chain(streams::OPERATIONS)
}

/// The operations on accounts, history, views and operations.
const OPERATIONS: &[Operation] = &[
    Operation {
        method: "post",
        path: "/accounts",
        id: "openAccount",
        tag: "accounts",
        params: command_headers,
        errors: &[
            BODY_400,
            (409, &[C::AccountExists, C::ConcurrencyConflict]),
            PRECONDITION,
            BODY_413,
            BODY_415,
            (
                422,
                &[
                    C::ValidationFailed,
                    C::InvalidAmount,
                    C::InvalidCurrency,
                    C::IdempotencyKeyReused,
                ],
            ),
        ],
        open: false,
    },
    Operation {
        method: "post",
        path: "/accounts/{id}/deposit",
        id: "deposit",
        tag: "accounts",
        params: account_command,
        errors: &[
            BODY_400,
            NOT_FOUND,
            (409, &[C::AccountClosed, C::ConcurrencyConflict]),
            PRECONDITION,
            BODY_413,
            BODY_415,
            (
                422,
                &[
                    C::InvalidAmount,
                    C::ValidationFailed,
                    C::IdempotencyKeyReused,
                ],
            ),
        ],
        open: false,
    },
    Operation {
        method: "post",
        path: "/accounts/{id}/withdraw",
        id: "withdraw",
        tag: "accounts",
        params: account_command,
        errors: &[
            BODY_400,
            NOT_FOUND,
            (409, &[C::AccountClosed, C::ConcurrencyConflict]),
            PRECONDITION,
            BODY_413,
            BODY_415,
            (
                422,
                &[
                    C::InvalidAmount,
                    C::InsufficientFunds,
                    C::ValidationFailed,
                    C::IdempotencyKeyReused,
                ],
            ),
        ],
        open: false,
    },
    Operation {
        method: "post",
        path: "/accounts/{id}/close",
        id: "closeAccount",
        tag: "accounts",
        params: account_command,
        errors: &[
            BODY_400,
            NOT_FOUND,
            (
                409,
                &[
                    C::AccountClosed,
                    C::PendingTransfers,
                    C::ConcurrencyConflict,
                ],
            ),
            PRECONDITION,
            BODY_413,
            BODY_415,
            (
                422,
                &[
                    C::BalanceNotZero,
                    C::ValidationFailed,
                    C::IdempotencyKeyReused,
                ],
            ),
        ],
        open: false,
    },
    Operation {
        method: "post",
        path: "/accounts/{id}/limits",
        id: "setLimits",
        tag: "accounts",
        params: account_command,
        errors: &[
            BODY_400,
            NOT_FOUND,
            (409, &[C::AccountClosed, C::ConcurrencyConflict]),
            PRECONDITION,
            BODY_413,
            BODY_415,
            (
                422,
                &[
                    C::InvalidAmount,
                    C::LimitBelowDebt,
                    C::ValidationFailed,
                    C::IdempotencyKeyReused,
                ],
            ),
        ],
        open: false,
    },
    Operation {
        method: "get",
        path: "/accounts/{id}",
        id: "getAccount",
        tag: "accounts",
        params: account_query,
        errors: &[NOT_FOUND, QUERY_422],
        open: false,
    },
    Operation {
        method: "get",
        path: "/accounts",
        id: "listAccounts",
        tag: "accounts",
        params: accounts_list,
        errors: &[QUERY_422],
        open: false,
    },
    Operation {
        method: "get",
        path: "/accounts/{id}/events",
        id: "listAccountEvents",
        tag: "history",
        params: account_events,
        errors: &[NOT_FOUND, QUERY_422],
        open: false,
    },
    Operation {
        method: "get",
        path: "/audit",
        id: "listAuditEntries",
        tag: "history",
        params: audit,
        errors: &[QUERY_422],
        open: false,
    },
    Operation {
        method: "get",
        path: "/events",
        id: "readFeed",
        tag: "history",
        params: feed,
        errors: &[QUERY_422],
        open: false,
    },
    Operation {
        method: "get",
        path: "/analytics/summary",
        id: "getSummary",
        tag: "views",
        params: none,
        errors: &[QUERY_422],
        open: false,
    },
    Operation {
        method: "get",
        path: "/analytics/daily",
        id: "getDailyVolumes",
        tag: "views",
        params: daily,
        errors: &[(422, &[C::ValidationFailed, C::InvalidCurrency])],
        open: false,
    },
    Operation {
        method: "get",
        path: "/admin/projections",
        id: "listProjections",
        tag: "operations",
        params: none,
        errors: &[],
        open: false,
    },
    Operation {
        method: "post",
        path: "/admin/rebuild-projections",
        id: "rebuildProjections",
        tag: "operations",
        params: rebuild,
        errors: &[BODY_400, BODY_413, BODY_415, ADMIN_POST_422],
        open: false,
    },
    Operation {
        method: "post",
        path: "/admin/api-keys",
        id: "createApiKey",
        tag: "access",
        params: idempotency_only,
        errors: &[BODY_400, BODY_413, BODY_415, ADMIN_POST_422],
        open: false,
    },
    Operation {
        method: "get",
        path: "/admin/api-keys",
        id: "listApiKeys",
        tag: "access",
        params: none,
        errors: &[],
        open: false,
    },
    Operation {
        method: "delete",
        path: "/admin/api-keys/{key_id}",
        id: "revokeApiKey",
        tag: "access",
        params: key_id,
        errors: &[(404, &[C::NotFound])],
        open: false,
    },
    Operation {
        method: "get",
        path: "/health",
        id: "health",
        tag: "operations",
        params: none,
        errors: &[],
        open: true,
    },
    Operation {
        method: "get",
        path: "/ready",
        id: "ready",
        tag: "operations",
        params: none,
        errors: &[],
        open: true,
    },
    Operation {
        method: "get",
        path: "/metrics",
        id: "metrics",
        tag: "operations",
        params: none,
        errors: &[],
        open: true,
    },
    Operation {
        method: "get",
        path: "/openapi.json",
        id: "openapi",
        tag: "operations",
        params: none,
        errors: &[],
        open: true,
    },
];

/// The errors every operation can answer: an over-long URI, a failure, a timeout or an
/// unreachable store; and, off the open paths, a missing or insufficient token.
pub fn common_errors(open: bool) -> Vec<(u16, &'static [C])> {
    let mut e: Vec<(u16, &'static [C])> = vec![
        (414, &[C::UriTooLong]),
        (500, &[C::Internal]),
        (503, &[C::ServiceUnavailable]),
    ];
    if !open {
        e.push((401, &[C::Unauthorized]));
        e.push((403, &[C::Forbidden]));
        e.push((429, &[C::RateLimited]));
    }
    e
}
