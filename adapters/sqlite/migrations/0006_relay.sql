-- The event relay's checkpoint (the last event JetStream acknowledged) and the error of
-- its last attempt, kept in the store the events are in.
CREATE TABLE relay_checkpoints (
    name       TEXT PRIMARY KEY,
    tx_id      INTEGER NOT NULL,
    position   INTEGER NOT NULL,
    last_error TEXT
);
