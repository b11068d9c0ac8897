//! The schema of a batch's operations: one object per `op`, with the fields of the
//! single command's body (and `account_id` where the single command has it in its path).

use serde_json::{json, Value};

use super::params::{currencies, AMOUNT_PATTERN, ID_PATTERN, OWNER_PATTERN, TEXT_PATTERN};

fn op(name: &str, required: &[&str], properties: Value) -> Value {
    let mut props = properties;
    props["op"] = json!({"const": name});
    let mut req = vec!["op"];
    req.extend_from_slice(required);
    json!({"type": "object", "required": req, "properties": props})
}

/// `operations`: 1-1,000 of the eight shapes.
pub fn batch_operations() -> Value {
    let id = json!({"type": "string", "pattern": ID_PATTERN});
    let text = json!({"type": "string", "maxLength": 500, "pattern": TEXT_PATTERN});
    let amount = json!({"oneOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": AMOUNT_PATTERN},
    ]});
    let limit = json!({"oneOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^[0-9]{1,20}(\.[0-9]{1,20})?$"},
    ]});
    let owner =
        json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": OWNER_PATTERN});
    let shapes = vec![
        op(
            "open_account",
            &["owner", "currency"],
            json!({"account_id": id, "owner": owner,
            "currency": currencies(), "overdraft_limit": limit}),
        ),
        op(
            "deposit",
            &["account_id", "amount"],
            json!({"account_id": id, "amount": amount,
            "description": text}),
        ),
        op(
            "withdraw",
            &["account_id", "amount"],
            json!({"account_id": id, "amount": amount,
            "description": text}),
        ),
        op(
            "transfer",
            &["from_account_id", "to_account_id", "amount"],
            json!({
            "transfer_id": id, "from_account_id": id, "to_account_id": id, "amount": amount,
            "description": text, "pending": {"type": "boolean"},
            "expires_in_seconds": {"type": "integer", "minimum": 1, "maximum": 2592000}}),
        ),
        op(
            "post_transfer",
            &["transfer_id"],
            json!({"transfer_id": id, "amount": amount}),
        ),
        op(
            "void_transfer",
            &["transfer_id"],
            json!({"transfer_id": id, "reason": text}),
        ),
        op(
            "close_account",
            &["account_id"],
            json!({"account_id": id, "reason": text}),
        ),
        op(
            "set_limits",
            &["account_id", "overdraft_limit"],
            json!({"account_id": id,
            "overdraft_limit": limit}),
        ),
    ];
    json!({"type": "array", "minItems": 1, "maxItems": 1000, "items": {"oneOf": shapes}})
}
