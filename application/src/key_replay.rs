//! A key made under an `Idempotency-Key`: what a retry needs to give the same answer,
//! secret included, while the store keeps only the secret's hash.
//!
//! Such a key's secret is not drawn at random but derived from a random salt (kept)
//! and the caller's scoped idempotency key (not kept: the store has only its SHA-256,
//! under another label). A retry that presents the same idempotency key derives the
//! same secret; the database alone does not give it. Anyone who reads the database
//! *and* knows or guesses the idempotency key could derive it, so an idempotency key
//! for a key should be as unguessable as a UUID v4 (docs/API.md, "Access").

use sha2::{Digest, Sha256};

use crate::access::Role;
use crate::api_keys::SECRET_PREFIX;
use crate::idempotency::scoped_key;
use crate::ports::keys::KeyReplay;

/// A creation under an idempotency key, before it is stored.
pub(crate) struct ReplayKey {
    scoped: String,
    lookup: [u8; 32],
    request: [u8; 32],
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
    /// The creation of a key named `name` with `role`, by `actor`, under `key`.
    pub(crate) fn new(actor: &str, key: &str, name: &str, role: &Role) -> Self {
        let scoped = scoped_key(actor, key);
        let owner = role.owner().map(|o| o.as_str()).unwrap_or_default();
        Self {
            lookup: digest("ledger api-key lookup", &[scoped.as_bytes()]),
            request: digest(
                "ledger api-key request",
                &[name.as_bytes(), role.name().as_bytes(), owner.as_bytes()],
            ),
            scoped,
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
        let bytes = digest("ledger api-key secret", &[salt, self.scoped.as_bytes()]);
        format!("{SECRET_PREFIX}{}", hex::encode(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_depends_on_the_salt_and_the_key_and_looks_like_any_other() {
        let a = ReplayKey::new("admin", "k-1", "ci", &Role::Reader);
        let secret = a.secret(&[7; 32]);
        assert_eq!(secret, a.secret(&[7; 32]));
        assert_ne!(secret, a.secret(&[8; 32]));
        let b = ReplayKey::new("admin", "k-2", "ci", &Role::Reader);
        assert_ne!(secret, b.secret(&[7; 32]));
        assert!(crate::api_keys::hash_of(&secret).is_some(), "{secret}");
        assert_ne!(a.lookup(), b.lookup());
        assert!(a.same_request(&b.record([0; 32])), "same fields");
        let other = ReplayKey::new("admin", "k-1", "ci", &Role::Operator);
        assert!(!a.same_request(&other.record([0; 32])));
        assert_eq!(a.lookup(), other.lookup());
    }
}
