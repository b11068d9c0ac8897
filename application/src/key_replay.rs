//! A key made under an `Idempotency-Key`: what a retry needs to give the same answer,
//! secret included, while the store keeps only the secret's hash.
//!
//! Such a key's secret is not drawn at random but derived: HMAC-SHA256, keyed with a
//! server secret that is never stored (the admin token: whoever holds it may make keys
//! anyway), over a random salt (kept with the key) and the caller's scoped idempotency
//! key. A retry that presents the same idempotency key derives the same secret. The
//! database, a backup and the logs together do not give it: the idempotency key is not
//! a secret, the server secret is. A replay checks the derived secret against the
//! stored hash, so a changed server secret is refused, never answered a wrong secret.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::access::Role;
use crate::api_keys::{secret_hash, CreatedKey, KeyError, SECRET_PREFIX};
use crate::idempotency::scoped_key;
use crate::ports::keys::{KeyReplay, KeyStore};
use crate::ports::store::StoreError;

/// A creation under an idempotency key, before it is stored.
pub(crate) struct ReplayKey {
    scoped: String,
    lookup: [u8; 32],
    request: [u8; 32],
    server_secret: Vec<u8>,
}

/// What makes a key creation replayable: the client's idempotency key and the server
/// secret its key's secret is derived with (the admin token).
#[derive(Clone, Copy)]
pub struct Replayable<'a> {
    /// The `Idempotency-Key`.
    pub idempotency_key: &'a str,
    /// Never stored; the same on every instance.
    pub server_secret: &'a [u8],
}

/// SHA-256 over labelled, length-prefixed parts (no two lists of parts collide).
fn digest(label: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label.as_bytes());
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

impl ReplayKey {
    /// The creation of a key named `name` with `role`, by `actor`, replayable as `by`.
    pub(crate) fn new(actor: &str, by: Replayable<'_>, name: &str, role: &Role) -> Self {
        let scoped = scoped_key(actor, by.idempotency_key);
        let owner = role.owner().map(|o| o.as_str()).unwrap_or_default();
        Self {
            lookup: digest("ledger api-key lookup", &[scoped.as_bytes()]),
            request: digest(
                "ledger api-key request",
                &[name.as_bytes(), role.name().as_bytes(), owner.as_bytes()],
            ),
            scoped,
            server_secret: by.server_secret.to_vec(),
        }
    }

    /// How the store finds a key made under this idempotency key.
    pub(crate) fn lookup(&self) -> &[u8; 32] {
        &self.lookup
    }

    /// What the store keeps for a key made now with `salt`.
    pub(crate) fn record(&self, salt: [u8; 32]) -> KeyReplay {
        KeyReplay {
            lookup: self.lookup,
            request: self.request,
            salt,
        }
    }

    /// Whether a stored record was made by this same request.
    pub(crate) fn same_request(&self, stored: &KeyReplay) -> bool {
        stored.request == self.request
    }

    /// The secret of a key made with `salt` under this idempotency key.
    pub(crate) fn secret(&self, salt: &[u8; 32]) -> String {
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.server_secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(&digest(
            "ledger api-key secret",
            &[salt, self.scoped.as_bytes()],
        ));
        format!(
            "{SECRET_PREFIX}{}",
            hex::encode(mac.finalize().into_bytes())
        )
    }
}

/// 256 random bits from the OS: a secret, or the salt a secret is derived from.
pub(crate) fn random_bytes() -> Result<[u8; 32], StoreError> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random)
        .map_err(|e| StoreError::Failed(format!("no randomness for a secret: {e}")))?;
    Ok(random)
}

/// The key made before under the same idempotency key, with its secret derived again;
/// refused when it was made by another request, or under another server secret.
pub(crate) async fn made_before(
    store: &dyn KeyStore,
    replay: Option<&ReplayKey>,
) -> Result<Option<CreatedKey>, KeyError> {
    let Some(replay) = replay else {
        return Ok(None);
    };
    let Some((key, hash, stored)) = store.by_replay(replay.lookup()).await? else {
        return Ok(None);
    };
    if !replay.same_request(&stored) {
        return Err(KeyError::IdempotencyKeyReused);
    }
    let secret = replay.secret(&stored.salt);
    if secret_hash(&secret) != hash {
        return Err(KeyError::Invalid(format!(
            "key {} was made under this Idempotency-Key with another admin token: its \
             secret cannot be given again; revoke it and make another",
            key.key_id
        )));
    }
    Ok(Some(CreatedKey {
        key,
        secret,
        replayed: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_depends_on_the_salt_the_key_and_the_server_secret() {
        let by = |k| Replayable {
            idempotency_key: k,
            server_secret: b"admin-token",
        };
        let a = ReplayKey::new("admin", by("k-1"), "ci", &Role::Reader);
        let secret = a.secret(&[7; 32]);
        assert_eq!(secret, a.secret(&[7; 32]));
        assert_ne!(secret, a.secret(&[8; 32]));
        let b = ReplayKey::new("admin", by("k-2"), "ci", &Role::Reader);
        assert_ne!(secret, b.secret(&[7; 32]));
        let rotated = Replayable {
            idempotency_key: "k-1",
            server_secret: b"another-token",
        };
        let c = ReplayKey::new("admin", rotated, "ci", &Role::Reader);
        assert_ne!(secret, c.secret(&[7; 32]), "the server secret counts");
        assert_eq!(a.lookup(), c.lookup());
        assert!(crate::api_keys::hash_of(&secret).is_some(), "{secret}");
        assert_ne!(a.lookup(), b.lookup());
        assert!(a.same_request(&b.record([0; 32])), "same fields");
        let other = ReplayKey::new("admin", by("k-1"), "ci", &Role::Operator);
        assert!(!a.same_request(&other.record([0; 32])));
        assert_eq!(a.lookup(), other.lookup());
    }
}
