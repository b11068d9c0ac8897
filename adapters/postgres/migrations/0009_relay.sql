-- The event relay's checkpoint (the last event JetStream acknowledged) and the error of
-- its last attempt, kept in the store the events are in.
CREATE TABLE relay_checkpoints (
    name       TEXT PRIMARY KEY,
    tx_id      BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    last_error TEXT,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
