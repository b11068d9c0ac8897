-- API keys, each found by the SHA-256 of its secret; the secret itself is never stored.
-- A revoked key keeps its row (revoked_at set): it is refused, and revoking every key
-- never opens the API again. Times are microseconds since the epoch.
CREATE TABLE api_keys (
    key_id       TEXT PRIMARY KEY,
    secret_hash  BLOB NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('operator', 'reader', 'owner')),
    owner        TEXT,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    CHECK ((role = 'owner') = (owner IS NOT NULL))
);
