//! The schema of a batch's operations: one object per `op`, with the fields of the
//! single command's body (and `account_id` where the single command has it in its path).
//! Values are typed but not constrained further: in a non-atomic batch an invalid value
//! (an amount with too many decimals, an unknown currency, an id that cannot exist) is
//! that operation's refusal inside a 200 answer, not a malformed request; the single
//! commands' schemas carry the constraints.

use serde_json::{json, Value};

fn op(name: &str, required: &[&str], properties: Value) -> Value {
    let mut props = properties;
    props["op"] = json!({"const": name});
    let mut req = vec!["op"];
    req.extend_from_slice(required);
    json!({"type": "object", "required": req, "properties": props,
           "additionalProperties": false})
}

/// `operations`: 1-1,000 of the eight shapes.
pub fn batch_operations() -> Value {
    // Read as the single commands read them: an optional field may be null, and an
    // amount that is not a number or a decimal string is `invalid_amount`.
    let id = json!({"type": "string"});
    let optional_id = json!({"type": ["string", "null"]});
    let text = json!({"type": ["string", "null"]});
    let amount = json!({"not": {"type": "null"}});
    let limit = json!({"not": {"type": "null"}});
    let optional_amount = json!({});
    let owner = json!({"type": "string"});
    let shapes = vec![
        op(
            "open_account",
            &["owner", "currency"],
            json!({"account_id": optional_id, "owner": owner,
                   "currency": {"type": "string"}, "overdraft_limit": optional_amount}),
        ),
        op(
            "deposit",
            &["account_id", "amount"],
            json!({"account_id": id, "amount": amount, "description": text}),
        ),
        op(
            "withdraw",
            &["account_id", "amount"],
            json!({"account_id": id, "amount": amount, "description": text}),
        ),
        op(
            "transfer",
            &["from_account_id", "to_account_id", "amount"],
            json!({"transfer_id": optional_id, "from_account_id": id, "to_account_id": id,
                   "amount": amount, "description": text,
                   "pending": {"type": ["boolean", "null"]},
                   "expires_in_seconds": {"type": ["number", "null"]}}),
        ),
        op(
            "post_transfer",
            &["transfer_id"],
            json!({"transfer_id": id, "amount": optional_amount}),
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
            json!({"account_id": id, "overdraft_limit": limit}),
        ),
    ];
    json!({"type": "array", "minItems": 1, "maxItems": 1000, "items": {"oneOf": shapes}})
}
