-- `GET /audit?request_id=` is an equality lookup. The hash index of 0004 costs the same
-- as this one per inserted row, but a rebuild builds its indexes at the end, and a hash
-- index build is four times slower than a B-tree's (1,000,000 rows: 2.9-3.5 s against
-- 0.7 s, BENCHMARKS.md): it was the longest step of a rebuild's swap. A B-tree on
-- the 4-byte hash of the id keeps the small random keys; queries match on the hash,
-- then on the id itself. (`hashtext` is what hash indexes and hash partitioning use;
-- like a hash index, this one would need a REINDEX if it ever changed.)
DROP INDEX audit_log_request_idx;
CREATE INDEX audit_log_request_idx ON audit_log (hashtext(request_id));
