//! The parameters of each operation, with the constraints the server enforces, and the
//! patterns of the values they share with request bodies.

use serde_json::{json, Value};

/// An account or transfer id (API.md: 1-64 of `[A-Za-z0-9._:-]`, not `.` or `..`).
pub const ID_PATTERN: &str = r"^(?!\.\.?$)[A-Za-z0-9._:-]{1,64}$";
/// An id as a filter or cursor takes it: as stored (earlier versions took `.` and `..`).
pub const STORED_ID_PATTERN: &str = r"^[A-Za-z0-9._:-]{1,64}$";
/// A text without control characters (owner, description, reason).
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";
/// An owner: as a text, and not blank.
pub const OWNER_PATTERN: &str = r"^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$";
/// `If-Match`: `*`, or entity tags separated by commas (empty elements allowed).
pub const IF_MATCH_PATTERN: &str = r#"^[ \t]*(\*|[ \t,]*(W/)?"[\x21\x23-\x7E\x80-\xFF]*"([ \t]*,[ \t,]*(W/)?"[\x21\x23-\x7E\x80-\xFF]*")*[ \t,]*)[ \t]*$"#;

/// Every currency code the ledger takes; for a new account, less those ISO 4217 has
/// withdrawn (`Currency::current`).
pub fn currencies(new_account: bool) -> Value {
    let codes: Vec<&str> = ledger_domain::Currency::all()
        .into_iter()
        .filter(|c| !new_account || c.is_current())
        .map(|c| c.code())
        .collect();
    json!({"type": "string", "enum": codes})
}
/// A positive decimal string (how many decimals the currency allows is the server's:
/// 422 `invalid_amount`).
pub const AMOUNT_PATTERN: &str = r"^(?=.*[1-9])0*[0-9]{1,20}(\.[0-9]{1,20})?$";
/// An overdraft limit as a decimal string: zero or more.
pub const LIMIT_PATTERN: &str = r"^0*[0-9]{1,20}(\.[0-9]{1,20})?$";
/// The largest version or cursor a query takes: 19 digits (`body::whole_number`).
pub const WHOLE_MAX: u64 = 9_999_999_999_999_999_999;

pub(crate) fn path_id() -> Value {
    json!({"name": "id", "in": "path", "required": true,
           "schema": {"type": "string", "pattern": ID_PATTERN}})
}

pub(crate) fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema,
           "description": description})
}

pub(crate) fn limit(default: u64) -> Value {
    query(
        "limit",
        json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": default}),
        "At most this many (1-1000).",
    )
}

pub(crate) fn command_headers() -> Vec<Value> {
    vec![
        json!({"name": "Idempotency-Key", "in": "header", "required": false,
               "description": "1-255 visible ASCII characters; a retry with the same key and request gets the first outcome.",
               "schema": {"type": "string", "pattern": r"^[\x21-\x7E]{1,255}$"}}),
        json!({"name": "If-Match", "in": "header", "required": false,
               "description": "`*` or a list of ETags (`\"5\"`): refuse the command unless the account is at one of these versions.",
               "schema": {"type": "string", "pattern": IF_MATCH_PATTERN}}),
    ]
}

/// `If-Match` where it names no account (a post, a void, a batch): read as on every
/// command, its tags not evaluated.
pub(crate) fn if_match_unevaluated() -> Value {
    json!({"name": "If-Match", "in": "header", "required": false,
           "description": "Not evaluated here (a transfer and a batch have no ETag): its tags are ignored, though a malformed value is 400 and an empty one 422, as on every command.",
           "schema": {"type": "string", "pattern": IF_MATCH_PATTERN}})
}

/// `X-Request-ID`, which every operation takes.
pub(crate) fn request_id() -> Value {
    json!({"name": "X-Request-ID", "in": "header", "required": false,
           "description": "Your id for the request: 1-128 visible ASCII characters, echoed in the answer and recorded in the metadata of every event it writes. Any other value (or none) is replaced by a generated one (UUIDv7).",
           "schema": {"type": "string"}})
}

/// The `Idempotency-Key` header alone (where `If-Match` does not apply).
pub(crate) fn idempotency_only() -> Vec<Value> {
    command_headers()
        .into_iter()
        .filter(|h| h["name"] == "Idempotency-Key")
        .collect()
}

pub(crate) fn key_id() -> Vec<Value> {
    vec![json!({"name": "key_id", "in": "path", "required": true,
                "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}})]
}

pub(crate) fn none() -> Vec<Value> {
    Vec::new()
}

pub(crate) fn account_command() -> Vec<Value> {
    let mut p = vec![path_id()];
    p.extend(command_headers());
    p
}

pub(crate) fn account_query() -> Vec<Value> {
    vec![
        path_id(),
        query(
            "version",
            json!({"type": "integer", "minimum": 0, "maximum": WHOLE_MAX}),
            "The state after this version (temporal query).",
        ),
        query(
            "as_of",
            json!({"type": "string", "format": "date-time"}),
            "The state as recorded at this instant (temporal query).",
        ),
    ]
}

pub(crate) fn account_events() -> Vec<Value> {
    vec![
        path_id(),
        query(
            "after_version",
            json!({"type": "integer", "minimum": 0, "maximum": WHOLE_MAX, "default": 0}),
            "Events after this version.",
        ),
        limit(100),
    ]
}

pub(crate) fn accounts_list() -> Vec<Value> {
    vec![
        query(
            "owner",
            json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": OWNER_PATTERN}),
            "Exact owner.",
        ),
        query(
            "status",
            json!({"type": "string", "enum": ["open", "closed"]}),
            "Open or closed accounts only.",
        ),
        limit(50),
        query(
            "cursor",
            json!({"type": "string", "pattern": STORED_ID_PATTERN}),
            "`next_cursor` of the previous page.",
        ),
    ]
}

pub(crate) fn audit() -> Vec<Value> {
    let instant = json!({"type": "string", "format": "date-time"});
    vec![
        query(
            "account_id",
            json!({"type": "string", "pattern": STORED_ID_PATTERN}),
            "One account's entries.",
        ),
        query(
            "event_type",
            json!({"type": "string", "enum": ledger_domain::EVENT_TYPES}),
            "One event type.",
        ),
        query("from", instant.clone(), "Recorded at or after."),
        query("to", instant, "Recorded at or before."),
        query(
            "request_id",
            json!({"type": "string", "minLength": 1, "pattern": TEXT_PATTERN}),
            "One request's entries.",
        ),
        limit(100),
        query(
            "cursor",
            json!({"type": "string", "pattern": "^[0-9]{1,19}$"}),
            "`next_cursor` of the previous page.",
        ),
    ]
}

pub(crate) fn daily() -> Vec<Value> {
    let day = json!({"type": "string", "format": "date"});
    vec![
        query("currency", currencies(false), "One currency."),
        query("from", day.clone(), "From this UTC day."),
        query("to", day, "To this UTC day."),
        query(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 10000}),
            "At most this many lines.",
        ),
        query(
            "cursor",
            json!({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}[.][A-Z]{3}$"}),
            "`next_cursor` of the previous page.",
        ),
    ]
}

pub(crate) fn feed() -> Vec<Value> {
    vec![
        query(
            "after",
            json!({"type": "string", "pattern": "^([0-9]{1,19}-[0-9]{1,19}|end)$"}),
            "`next` of the previous page, or `end`: only events that commit from now on (an empty page whose `next` to poll from).",
        ),
        limit(100),
    ]
}

pub(crate) fn rebuild() -> Vec<Value> {
    let mut p = vec![query(
        "projection",
        json!({"type": "string", "enum": ledger_application::ports::readmodel::PROJECTIONS
            .map(|p| p.as_str())}),
        "Rebuild only this one.",
    )];
    p.extend(idempotency_only());
    p
}
