-- A key made under an Idempotency-Key keeps what a retry needs to give the same answer:
-- the SHA-256 of the scoped idempotency key (unique: one key per idempotency key), of
-- the request, and the salt its secret was derived from. The secret is still not
-- stored (application/src/key_replay.rs).
ALTER TABLE api_keys ADD COLUMN replay_lookup BLOB CHECK (length(replay_lookup) = 32);
ALTER TABLE api_keys ADD COLUMN replay_request BLOB CHECK (length(replay_request) = 32);
ALTER TABLE api_keys ADD COLUMN replay_salt BLOB CHECK (length(replay_salt) = 32);
CREATE UNIQUE INDEX api_keys_replay_lookup ON api_keys (replay_lookup);
