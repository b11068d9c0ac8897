//! Amounts and limits read exactly from the JSON text of a body.

use ledger_domain::{Decimal, ErrorCode, MoneyError};
use serde_json::value::RawValue;

use crate::problem::ApiError;

/// An amount given as a JSON number or a decimal string, read exactly from its text.
pub fn amount(raw: Option<&RawValue>) -> Result<Decimal, ApiError> {
    number(raw, "amount", true)
}

/// An overdraft limit: zero or more, a JSON number or a decimal string (422
/// `invalid_amount` otherwise).
pub fn overdraft_limit(raw: Option<&RawValue>) -> Result<Decimal, ApiError> {
    number(raw, "overdraft_limit", false)
}

fn number(raw: Option<&RawValue>, field: &str, positive: bool) -> Result<Decimal, ApiError> {
    let raw = raw.ok_or_else(|| ApiError::malformed(format!("`{field}` is required")))?;
    let text = raw.get().trim();
    // A minus sign on zero in a string (`"-0.00"`, `"\u002d0"`) is as refused as on any
    // other limit: the contract's pattern has no sign (read from the decoded text). A
    // JSON number `-0` is zero, as the contract's `minimum: 0` has it.
    let mut minus = false;
    let d = if text.starts_with('"') {
        let s: String = serde_json::from_str(text).map_err(|_| invalid_amount("not a decimal"))?;
        minus = s.trim_start().starts_with('-');
        // As the contract's pattern says: digits and a point, no exponent (a JSON
        // number may have one, by JSON's own grammar).
        if s.contains(['e', 'E']) {
            return Err(invalid_amount(&format!(
                "`{field}` as a string is digits with an optional point, no exponent"
            )));
        }
        Decimal::parse(&s)
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        Decimal::parse(text)
    } else {
        return Err(invalid_amount(&format!(
            "`{field}` must be a number or a decimal string"
        )));
    }
    .map_err(|e| invalid_amount(&e.to_string()))?;
    let refused = if positive {
        !d.is_positive()
    } else {
        d.is_negative() || minus
    };
    if refused {
        return Err(invalid_amount(&if positive {
            MoneyError::NotPositive.to_string()
        } else {
            format!("`{field}` must not be negative")
        }));
    }
    Ok(d)
}

fn invalid_amount(why: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidAmount, format!("invalid amount: {why}"))
}
