//! API-key rows, once for both dialects: `role` is `operator`, `reader` or `owner`,
//! and `owner` is set exactly for role `owner`.

use ledger_application::access::Role;
use ledger_application::ports::keys::{ApiKey, KeyReplay, SecretHash};
use ledger_domain::Owner;

use crate::{decode_error, Columns};

/// The columns of an `api_keys` row, as [`api_key`] reads them.
pub const KEY_COLUMNS: &str = "key_id, name, role, owner, created_at, last_used_at, revoked_at";

/// A role as its two columns (`role`, `owner`).
pub fn role_columns(role: &Role) -> (&'static str, Option<&str>) {
    (role.name(), role.owner().map(Owner::as_str))
}

/// Maps an `api_keys` row selected with [`KEY_COLUMNS`].
pub fn api_key(c: &impl Columns) -> Result<ApiKey, sqlx::Error> {
    let role = match (c.text("role")?.as_str(), c.opt_text("owner")?) {
        ("operator", None) => Role::Operator,
        ("reader", None) => Role::Reader,
        ("owner", Some(o)) => Role::Owner(Owner::from_stored(o).map_err(decode_error)?),
        (other, owner) => {
            return Err(decode_error(format!(
                "api key role {other} with owner {owner:?}"
            )))
        }
    };
    Ok(ApiKey {
        key_id: c.text("key_id")?,
        name: c.text("name")?,
        role,
        created_at: c.time("created_at")?,
        last_used_at: c.opt_time("last_used_at")?,
        revoked_at: c.opt_time("revoked_at")?,
    })
}

/// The columns of a key found by its idempotency lookup, as [`replayed_key`] reads them.
pub const REPLAYED_KEY_COLUMNS: &str = "key_id, name, role, owner, created_at, last_used_at, \
     revoked_at, secret_hash, replay_lookup, replay_request, replay_salt";

/// Maps an `api_keys` row selected with [`REPLAYED_KEY_COLUMNS`]: the key, its secret's
/// hash and its replay record (each 32 bytes, as the table checks).
pub fn replayed_key(c: &impl Columns) -> Result<(ApiKey, SecretHash, KeyReplay), sqlx::Error> {
    let exact = |column: &str| {
        <[u8; 32]>::try_from(c.bytes(column)?)
            .map_err(|b| decode_error(format!("{column}: {} bytes, not 32", b.len())))
    };
    let replay = KeyReplay {
        lookup: exact("replay_lookup")?,
        request: exact("replay_request")?,
        salt: exact("replay_salt")?,
    };
    Ok((api_key(c)?, exact("secret_hash")?, replay))
}
