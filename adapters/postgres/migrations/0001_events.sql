-- The append-only event store.
--
-- `position` is the global order of insertion; `tx_id` the writing transaction's id.
-- Feed readers read in (tx_id, position) order and only below the oldest running
-- transaction (pg_snapshot_xmin), so an event whose transaction commits late is never
-- skipped. `(stream_id, version)` is unique: it is the optimistic-concurrency control.
CREATE TABLE events (
    position       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id          BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    stream_id      TEXT NOT NULL,
    stream_type    TEXT NOT NULL,
    version        BIGINT NOT NULL CHECK (version > 0),
    event_id       UUID NOT NULL,
    event_type     TEXT NOT NULL,
    schema_version INTEGER NOT NULL CHECK (schema_version > 0),
    data           JSON NOT NULL,
    metadata       JSONB NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

CREATE INDEX events_feed_idx ON events (tx_id, position);
CREATE INDEX events_stream_time_idx ON events (stream_id, recorded_at);

-- Events are immutable, whoever connects: UPDATE, DELETE and TRUNCATE are refused.
CREATE FUNCTION events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_no_update_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_immutable();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();

-- The first outcome of each idempotent request, written with its events.
CREATE TABLE idempotency_keys (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
