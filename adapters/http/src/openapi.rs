//! `GET /openapi.json`: the contract as OpenAPI 3.1, generated from the handlers' own
//! types and annotations, so it cannot drift from the code.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::routing::get;
use axum::{Json, Router};
use ledger_domain::ErrorCode;
use serde_json::{json, Value};
use utoipa::OpenApi;

use crate::contract::{
    common_errors, currencies, operations, AMOUNT_PATTERN, ID_PATTERN, LIMIT_PATTERN,
    OWNER_PATTERN, TEXT_PATTERN,
};
use crate::dto::*;
use crate::problem::Problem;

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "ledger", description = "An event-sourced account ledger"),
    paths(
        crate::commands::open_account,
        crate::commands::deposit,
        crate::commands::withdraw,
        crate::commands::close,
        crate::commands::limits,
        crate::transfers::transfer,
        crate::transfers::post_transfer,
        crate::transfers::void_transfer,
        crate::transfers::get_transfer,
        crate::transfers::list_transfers,
        crate::batches::batch,
        crate::queries::account,
        crate::queries::account_events,
        crate::queries::list_accounts,
        crate::queries::audit,
        crate::queries::summary,
        crate::queries::daily,
        crate::queries::feed,
        crate::sse::feed_stream,
        crate::sse::account_stream,
        crate::probes::health,
        crate::probes::ready,
        crate::probes::metrics,
        crate::admin::projections,
        crate::admin::rebuild,
        crate::api_keys::create,
        crate::api_keys::list,
        crate::api_keys::revoke,
        crate::integrity::public_key,
        crate::integrity::latest,
        crate::console::page,
        crate::console::file,
        crate::console::whoami,
    ),
    components(schemas(
        Problem,
        AccountBody,
        TransferAnswer,
        crate::dto_transfers::AccountSide,
        crate::dto_transfers::HiddenAccount,
        TransferViewBody,
        TransfersPage,
        Balances,
        crate::dto_batches::BatchBody,
        crate::dto_batches::BatchAnswer,
        crate::dto_batches::BatchResult,
        AccountViewBody,
        HistoricAccountBody,
        EventBody,
        EventsPage,
        FeedBody,
        AccountsPage,
        AuditBody,
        AuditPage,
        CurrencyBody,
        SummaryBody,
        DayBody,
        DailyBody,
        ProjectionBody,
        ProjectionsBody,
        crate::api_keys::NewKeyBody,
        crate::api_keys::ApiKeyBody,
        crate::api_keys::CreatedKeyBody,
        crate::api_keys::ApiKeysBody,
        crate::integrity::LatestSealBody,
        crate::console::WhoAmIBody
    ))
)]
pub struct ApiDoc;

/// The served document: the generated one, completed by [`crate::contract`] (names,
/// tags, parameters with constraints, every error answer), built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        complete(&mut doc);
        doc
    })
}

pub(crate) fn router() -> Router<crate::State> {
    Router::new().route("/openapi.json", get(|| async { Json(document()) }))
}

fn problem(codes: &[ErrorCode]) -> Value {
    let names: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    json!({
        "description": format!("`code`: {}", names.join(", ")),
        "content": {"application/problem+json": {"schema": {
            "allOf": [{"$ref": "#/components/schemas/Problem"}],
            "properties": {"code": {"enum": names}},
        }}},
    })
}

fn object(description: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": {"type": "object"}}}})
}

fn complete(doc: &mut Value) {
    doc["paths"]["/openapi.json"]["get"] = json!({"responses": {"200": object("This document")},
        "parameters": [crate::contract::params::request_id()]});
    for op in operations() {
        let o = &mut doc["paths"][op.path][op.method];
        o["operationId"] = json!(op.id);
        o["tags"] = json!([op.tag]);
        let mut params = (op.params)();
        params.push(crate::contract::params::request_id());
        o["parameters"] = Value::Array(params);
        // A route that takes no query parameters refuses any (the middleware's
        // `query_on_parameterless`).
        let takes_none = !op.open && (op.params)().iter().all(|p| p["in"] != "query");
        let refused_query: &[(u16, &[ErrorCode])] = &[(422, &[ErrorCode::ValidationFailed])];
        let mut errors: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
        let all = common_errors(op.open)
            .into_iter()
            .chain(op.errors.iter().copied())
            .chain(refused_query.iter().copied().filter(|_| takes_none));
        for (status, codes) in all {
            let merged = errors.entry(status).or_default();
            for code in codes {
                if !merged.contains(code) {
                    merged.push(*code);
                }
            }
        }
        for (status, codes) in errors {
            o["responses"][status.to_string()] = problem(&codes);
        }
        o["responses"]["503"]["headers"] = json!({"Retry-After": {
            "description": "Seconds to wait before trying again",
            "schema": {"type": "integer", "minimum": 1}}});
        if !op.open {
            o["security"] = json!([{"bearer": []}]);
            o["responses"]["401"]["headers"] = json!({"WWW-Authenticate": {
                "description": "The scheme a request needs: `Bearer realm=\"ledger\"`",
                "schema": {"type": "string"}}});
            o["responses"]["429"]["headers"] = json!({"Retry-After": {
                "description": "Seconds to wait before the next request",
                "schema": {"type": "integer", "minimum": 1}}});
        }
    }
    headers_on_success(doc);
    doc["components"]["securitySchemes"] = json!({"bearer": {
        "type": "http", "scheme": "bearer",
        "description": "The admin token, an `auth.api_tokens` entry (an operator), or an API key's secret (`ledger_sk_...`) made with POST /admin/api-keys. With none configured and no key ever made, the API is open (except /admin)."}});
    let paths = &mut doc["paths"];
    paths["/health"]["get"]["responses"]["200"] = object("The process runs");
    paths["/ready"]["get"]["responses"]["200"] = object("The event store answers");
    // Its own body, not a problem; the `Retry-After` every 503 has, kept.
    let retry = paths["/ready"]["get"]["responses"]["503"]["headers"].take();
    paths["/ready"]["get"]["responses"]["503"] = object("The event store does not answer");
    paths["/ready"]["get"]["responses"]["503"]["headers"] = retry;
    paths["/metrics"]["get"]["responses"]["200"] = json!({"description": "Prometheus text",
        "content": {"text/plain": {"schema": {"type": "string"}}}});
    // An empty body is `{}` on these (no reason; all that remains).
    for path in [
        "/accounts/{id}/close",
        "/transfers/{id}/post",
        "/transfers/{id}/void",
    ] {
        paths[path]["post"]["requestBody"]["required"] = json!(false);
    }
    // It takes no body, or `{}` (a field is 400: it would be ignored).
    paths["/admin/rebuild-projections"]["post"]["requestBody"] = json!({"required": false,
        "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}}});
    let text = json!({"schema": {"type": "string"}});
    let files: serde_json::Map<String, Value> = crate::console::media_types()
        .map(|t| (t.to_owned(), text.clone()))
        .collect();
    paths["/console/{file}"]["get"]["responses"]["200"]["content"] = Value::Object(files);
    // The current-state view, or with `version`/`as_of` the state rebuilt at that point.
    paths["/accounts/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = json!({
        "anyOf": [
            {"$ref": "#/components/schemas/AccountViewBody"},
            {"$ref": "#/components/schemas/HistoricAccountBody"},
        ]
    });
    let schemas = &mut doc["components"]["schemas"];
    let id = json!({"type": ["string", "null"], "pattern": ID_PATTERN});
    let text = json!({"type": ["string", "null"], "maxLength": 500, "pattern": TEXT_PATTERN});
    let account = json!({"type": "string", "pattern": ID_PATTERN});
    let amount = json!({"oneOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": AMOUNT_PATTERN},
    ], "description": "Positive, with at most the currency's minor digits (422 `invalid_amount`)."});
    let post_amount = json!({"oneOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": AMOUNT_PATTERN},
        {"type": "null"},
    ], "description": "Positive, at most what remains (422 `amount_exceeds_pending`); absent: all that remains."});
    let limit = |or_null: bool| {
        let mut kinds = vec![
            json!({"type": "number", "minimum": 0}),
            json!({"type": "string", "pattern": LIMIT_PATTERN}),
        ];
        if or_null {
            kinds.push(json!({"type": "null"}));
        }
        json!({"oneOf": kinds,
               "description": "Zero or more, with at most the currency's minor digits (422 `invalid_amount`)."})
    };
    let fields = [
        ("OpenAccountBody", "account_id", id.clone()),
        (
            "OpenAccountBody",
            "owner",
            json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": OWNER_PATTERN}),
        ),
        ("OpenAccountBody", "currency", currencies(true)),
        ("MoneyBody", "amount", amount.clone()),
        ("MoneyBody", "description", text.clone()),
        ("CloseBody", "reason", text.clone()),
        ("OpenAccountBody", "overdraft_limit", limit(true)),
        ("LimitsBody", "overdraft_limit", limit(false)),
        ("PostBody", "amount", post_amount),
        ("VoidBody", "reason", text.clone()),
        ("TransferBody", "transfer_id", id),
        ("TransferBody", "from_account_id", account.clone()),
        ("TransferBody", "to_account_id", account),
        ("TransferBody", "amount", amount),
        ("TransferBody", "description", text),
    ];
    for (schema, field, rule) in fields {
        schemas[schema]["properties"][field] = rule;
    }
    schemas["BatchBody"]["properties"]["operations"] = crate::contract::batch_operations();
    let owner =
        json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": OWNER_PATTERN});
    schemas["NewKeyBody"]["properties"] = json!({
        "name": owner.clone(),
        "role": {"type": "string", "enum": ["operator", "reader", "owner"]},
        "owner": {"anyOf": [owner, {"type": "null"}],
                  "description": "Required for role `owner`, and only for it (422 otherwise)."},
    });
    schemas["NewKeyBody"]["required"] = json!(["name", "role"]);
    for (schema, field) in [
        ("MoneyBody", "amount"),
        ("TransferBody", "amount"),
        ("LimitsBody", "overdraft_limit"),
    ] {
        let required = &mut schemas[schema]["required"];
        if let Some(list) = required.as_array_mut() {
            if !list.contains(&json!(field)) {
                list.push(json!(field));
            }
        } else {
            *required = json!([field]);
        }
    }
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    schemas["Problem"]["properties"]["code"]["enum"] = json!(codes);
    doc["tags"] = json!([
        {"name": "accounts", "description": "Open accounts, move money in and out, close them, read them"},
        {"name": "transfers", "description": "Move money between two accounts atomically, at once or pending"},
        {"name": "batches", "description": "Many operations in one request, atomic or not"},
        {"name": "history", "description": "Events, the audit log and the global feed"},
        {"name": "views", "description": "Analytics read models"},
        {"name": "operations", "description": "Health, readiness, metrics, projections, this document"},
        {"name": "access", "description": "API keys with roles and owner scopes (admin token only)"},
    ]);
}

/// The headers answers carry besides their body: `X-Request-ID` on every one, the
/// account's `ETag` on its current state, a new account's `Location`.
fn headers_on_success(doc: &mut Value) {
    let string =
        |description: &str| json!({"description": description, "schema": {"type": "string"}});
    let request_id =
        string("The request's id: the caller's `X-Request-ID`, or one generated (UUIDv7)");
    if let Some(paths) = doc["paths"].as_object_mut() {
        let responses = paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|methods| methods.values_mut())
            .filter_map(|op| op.get_mut("responses").and_then(Value::as_object_mut))
            .flat_map(|responses| responses.values_mut());
        for response in responses {
            response["headers"]["X-Request-ID"] = request_id.clone();
        }
    }
    let paths = &mut doc["paths"];
    paths["/accounts/{id}"]["get"]["responses"]["200"]["headers"]["ETag"] = string(
        "`\"<version>\"` of the current state (not on a temporal query): the `If-Match` of a command",
    );
    paths["/accounts"]["post"]["responses"]["201"]["headers"]["Location"] =
        string("`/accounts/<id>` of the new account");
}
