-- Tamper evidence: each event's hash chains it to the previous event of its stream
-- (`ledger_domain::integrity`). Events written before this migration have none yet:
-- the store fills them in, stream by stream in version order, when it starts
-- (`backfill_hashes`), the one UPDATE the immutability trigger lets through.
-- `hash_backfill` holds where that work has got to while it is not done (no row: no
-- work), so a start never searches the events for missing hashes. (A partial index on
-- `hash IS NULL` would find them too, but it cost every grouped INSERT about 10 % of
-- its rate in ledger-bench: the planner weighs it for the version guard each time.)
ALTER TABLE events ADD COLUMN prev_hash BYTEA, ADD COLUMN hash BYTEA;

CREATE OR REPLACE FUNCTION events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
       AND NEW.prev_hash IS NOT NULL
       AND (NEW.position, NEW.tx_id, NEW.stream_id, NEW.stream_type, NEW.version,
            NEW.event_id, NEW.event_type, NEW.schema_version, NEW.data::text,
            NEW.metadata, NEW.recorded_at)
           IS NOT DISTINCT FROM
           (OLD.position, OLD.tx_id, OLD.stream_id, OLD.stream_type, OLD.version,
            OLD.event_id, OLD.event_type, OLD.schema_version, OLD.data::text,
            OLD.metadata, OLD.recorded_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'events are immutable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TABLE hash_backfill (
    stream_id TEXT NOT NULL,
    version   BIGINT NOT NULL
);
INSERT INTO hash_backfill (stream_id, version) SELECT '', 0 WHERE EXISTS (SELECT 1 FROM events);
