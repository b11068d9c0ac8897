-- The audit log takes a row per event, so its index upkeep is paid on every command.
-- Measured on 100,000 rows (BENCHMARKS.md): the B-tree on random request ids was a
-- third of the insert cost. `GET /audit?request_id=` is an equality lookup: a hash
-- index serves it for less. Times grow with positions, so a BRIN index (a few pages,
-- almost free to keep) serves `from`/`to` ranges.
DROP INDEX audit_log_request_idx;
CREATE INDEX audit_log_request_idx ON audit_log USING hash (request_id);
DROP INDEX audit_log_time_idx;
CREATE INDEX audit_log_time_idx ON audit_log USING brin (recorded_at);
