-- Events are immutable, REPLACE included. `INSERT OR REPLACE` (or `REPLACE INTO`)
-- meeting an existing event deletes it without firing the DELETE trigger (SQLite fires
-- it then only under `recursive_triggers`, which another client need not set), so an
-- insert that meets an existing event by any of its unique columns is refused before it
-- can replace one. Each check is a probe of the unique index the insert probes anyway.
-- The (stream_id, version) refusal reads as the unique constraint's own, which the
-- store takes for a version conflict, as before.
CREATE TRIGGER events_no_replace_version BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE stream_id = NEW.stream_id AND version = NEW.version)
BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: events.stream_id, events.version'); END;

CREATE TRIGGER events_no_replace_other BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE event_id = NEW.event_id)
  OR (NEW.position IS NOT NULL AND EXISTS (SELECT 1 FROM events WHERE position = NEW.position))
BEGIN SELECT RAISE(ABORT, 'events are immutable: an insert may not replace an event'); END;
