-- The expirer pages due transfers by (expires_at, transfer_id). Ids compare byte by
-- byte (COLLATE "C"), as SQLite and the memory store compare them, so transfers due at
-- the same instant are expired in one order on every backend whatever the database's
-- collation; the index gives that order, and the page after a cursor, without a sort.
DROP INDEX IF EXISTS transfers_due_idx;
CREATE INDEX transfers_due_idx ON transfers (expires_at, transfer_id COLLATE "C")
    WHERE status = 'pending';
