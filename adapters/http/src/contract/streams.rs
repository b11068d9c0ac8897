//! The live feeds' operations of the contract table (see `mod.rs`), and the seals'
//! public key.

use ledger_domain::ErrorCode as C;
use serde_json::{json, Value};

use super::params::{path_id, query, TEXT_PATTERN};
use super::{Operation, NOT_FOUND, QUERY_422};

fn last_event_id(description: &str, pattern: &str) -> Value {
    json!({"name": "Last-Event-ID", "in": "header", "required": false,
           "description": description,
           "schema": {"type": "string", "pattern": pattern}})
}

const CURSOR: &str = "^[0-9]{1,19}-[0-9]{1,19}$";
const AFTER: &str = "^([0-9]{1,19}-[0-9]{1,19}|end)$";

fn feed_stream() -> Vec<Value> {
    vec![
        query(
            "after",
            json!({"type": "string", "pattern": AFTER}),
            "Start after this cursor (a `next` of /events or an event's `id`), or `end`: only events that commit from now on; default: the first event.",
        ),
        query(
            "stream_id",
            json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": TEXT_PATTERN}),
            "Only this stream's events.",
        ),
        query(
            "event_type",
            json!({"type": "string", "enum": ledger_domain::EVENT_TYPES}),
            "Only events of this type.",
        ),
        last_event_id(
            "A reconnect resumes after this event `id` (it wins over `after`).",
            CURSOR,
        ),
    ]
}

fn account_stream() -> Vec<Value> {
    vec![
        path_id(),
        query(
            "after_version",
            json!({"type": "integer", "minimum": 0, "maximum": super::params::WHOLE_MAX, "default": 0}),
            "Start after this version.",
        ),
        last_event_id(
            "A reconnect resumes after this version (it wins over `after_version`).",
            "^[0-9]{1,19}$",
        ),
    ]
}

/// The live feeds as Server-Sent Events.
pub(super) const OPERATIONS: &[Operation] = &[
    Operation {
        method: "get",
        path: "/events/stream",
        id: "streamFeed",
        tag: "history",
        params: feed_stream,
        errors: &[QUERY_422],
        open: false,
    },
    Operation {
        method: "get",
        path: "/accounts/{id}/events/stream",
        id: "streamAccountEvents",
        tag: "history",
        params: account_stream,
        errors: &[NOT_FOUND, (422, &[C::ValidationFailed])],
        open: false,
    },
    Operation {
        method: "get",
        path: "/integrity/public-key",
        id: "integrityPublicKey",
        tag: "operations",
        params: super::params::none,
        errors: &[(404, &[C::NotFound])],
        open: true,
    },
    Operation {
        method: "get",
        path: "/admin/seals/latest",
        id: "latestSeal",
        tag: "operations",
        params: super::params::none,
        errors: &[(404, &[C::NotFound])],
        open: false,
    },
    Operation {
        method: "get",
        path: "/whoami",
        id: "whoAmI",
        tag: "access",
        params: super::params::none,
        errors: &[],
        open: false,
    },
    Operation {
        method: "get",
        path: "/console",
        id: "console",
        tag: "operations",
        params: super::params::none,
        errors: &[],
        open: true,
    },
    Operation {
        method: "get",
        path: "/console/{file}",
        id: "consoleFile",
        tag: "operations",
        params: console_file,
        errors: &[(404, &[C::NotFound])],
        open: true,
    },
];

fn console_file() -> Vec<Value> {
    vec![json!({"name": "file", "in": "path", "required": true,
        "description": "A file of the console (`app.js`, `console.css`, ...)",
        "schema": {"type": "string", "minLength": 1, "maxLength": 100}})]
}
