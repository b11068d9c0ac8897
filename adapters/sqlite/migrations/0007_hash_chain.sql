-- Tamper evidence: each event's hash chains it to the previous event of its stream
-- (`ledger_domain::integrity`). Events written before this migration have none yet:
-- the store fills them in when it starts (`backfill_hashes`), the one UPDATE the
-- immutability trigger lets through. `hash_backfill` holds where that work has got to
-- while it is not done (no row: no work), so opening never searches for missing hashes.
ALTER TABLE events ADD COLUMN prev_hash BLOB;
ALTER TABLE events ADD COLUMN hash BLOB;

DROP TRIGGER events_no_update;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
WHEN NOT (OLD.hash IS NULL AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
          AND NEW.position = OLD.position AND NEW.stream_id = OLD.stream_id
          AND NEW.stream_type = OLD.stream_type AND NEW.version = OLD.version
          AND NEW.event_id = OLD.event_id AND NEW.event_type = OLD.event_type
          AND NEW.schema_version = OLD.schema_version AND NEW.data = OLD.data
          AND NEW.metadata = OLD.metadata AND NEW.recorded_at = OLD.recorded_at)
BEGIN SELECT RAISE(ABORT, 'events are immutable: UPDATE refused'); END;

CREATE TABLE hash_backfill (
    stream_id TEXT NOT NULL,
    version   INTEGER NOT NULL
);
INSERT INTO hash_backfill (stream_id, version) SELECT '', 0 WHERE EXISTS (SELECT 1 FROM events);
