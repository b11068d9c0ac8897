-- The expirer takes due transfers in (expires_at, transfer_id) order, so that expiries
-- due at the same instant are recorded in one order on every backend: the index gives
-- that order without a sort.
DROP INDEX IF EXISTS transfers_due_idx;
CREATE INDEX transfers_due_idx ON transfers (expires_at, transfer_id) WHERE status = 'pending';
