-- `GET /audit?request_id=` is an equality lookup. The B-tree on `hashtext(request_id)`
-- of 0005 put each new entry at a random place in the index: once the index outgrew
-- what changes between two checkpoints, nearly every insert was the first change of
-- its leaf page since the last checkpoint, and PostgreSQL writes such a page to the
-- WAL whole (a full-page image, up to 8 kB) beside the row. Generated request ids are
-- UUIDv7 now (time-ordered), so a B-tree on the id itself takes new entries at its
-- right edge, a few pages per checkpoint, as the position and event-id indexes do.
-- A client's own `X-Request-ID` lands where it sorts, as any key does. The build locks
-- the audit log while it runs (about 4 s at ten million events, BENCHMARKS.md): an
-- instance of the previous version still running meanwhile has its audit projector
-- wait, not its commands.
DROP INDEX audit_log_request_idx;
CREATE INDEX audit_log_request_idx ON audit_log (request_id);
