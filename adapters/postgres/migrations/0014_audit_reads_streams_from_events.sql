-- `GET /audit?account_id=` (and an owner's audit) reads a stream's entries from the
-- events' own `(stream_id, version)` index, joined to the log by position (a stream's
-- positions grow with its versions), so the log's own index by stream served nothing
-- else: dropped, one b-tree fewer written per projected event (a fifth to a quarter of
-- the audit log's insert cost, measured in BENCHMARKS.md). The rows stay as they are.
DROP INDEX IF EXISTS audit_log_stream_idx;
