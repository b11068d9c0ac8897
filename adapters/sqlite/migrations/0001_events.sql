-- The append-only event store on one SQLite file.
-- One writer at a time (SQLite's write lock), so positions are assigned in commit
-- order and the feed is read by position alone. `(stream_id, version)` is unique: it
-- is the optimistic-concurrency control. `recorded_at` is Unix microseconds.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id      TEXT NOT NULL,
    stream_type    TEXT NOT NULL,
    version        INTEGER NOT NULL CHECK (version > 0),
    event_id       TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    schema_version INTEGER NOT NULL CHECK (schema_version > 0),
    data           TEXT NOT NULL CHECK (json_valid(data)),
    metadata       TEXT NOT NULL CHECK (json_valid(metadata)),
    recorded_at    INTEGER NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

CREATE INDEX events_stream_time_idx ON events (stream_id, recorded_at);

-- Events are immutable: UPDATE and DELETE are refused.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are immutable: UPDATE refused'); END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are immutable: DELETE refused'); END;

CREATE TABLE idempotency_keys (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    outcome     TEXT NOT NULL
);
