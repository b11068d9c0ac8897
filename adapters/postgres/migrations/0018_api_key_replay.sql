-- A key made under an Idempotency-Key keeps what a retry needs to give the same answer:
-- the SHA-256 of the scoped idempotency key (unique: one key per idempotency key), of
-- the request, and the salt its secret was derived from. The secret is still not
-- stored (application/src/key_replay.rs).
ALTER TABLE api_keys
    ADD COLUMN replay_lookup  BYTEA UNIQUE CHECK (length(replay_lookup) = 32),
    ADD COLUMN replay_request BYTEA CHECK (length(replay_request) = 32),
    ADD COLUMN replay_salt    BYTEA CHECK (length(replay_salt) = 32),
    ADD CONSTRAINT api_keys_replay_whole CHECK (
        (replay_lookup IS NULL) = (replay_request IS NULL)
        AND (replay_lookup IS NULL) = (replay_salt IS NULL)
    );
