-- Pending (two-phase) transfers and overdraft limits: an account's pending amounts and
-- limit in the current-state view, the pending volume per currency in the analytics,
-- and the transfers view (kept by the current-state projection). `view` holds the
-- transfer as the API shows it (JSON); the other columns are what lists filter and
-- order on. Transfers made before this migration appear in the view after a rebuild of
-- current_state (`ledger rebuild current_state`).
ALTER TABLE current_state
    ADD COLUMN pending_out BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN pending_in BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN overdraft_limit BIGINT NOT NULL DEFAULT 0;
ALTER TABLE analytics_currency
    ADD COLUMN pending_volume NUMERIC(40, 0) NOT NULL DEFAULT 0;
CREATE TABLE transfers (
    transfer_id      TEXT PRIMARY KEY,
    from_account_id  TEXT NOT NULL,
    to_account_id    TEXT NOT NULL,
    status           TEXT NOT NULL,
    expires_at       TIMESTAMPTZ,
    created_position BIGINT NOT NULL,
    view             TEXT NOT NULL
);
CREATE INDEX transfers_created_idx ON transfers (created_position);
CREATE INDEX transfers_from_idx ON transfers (from_account_id, created_position);
CREATE INDEX transfers_to_idx ON transfers (to_account_id, created_position);
CREATE INDEX transfers_due_idx ON transfers (expires_at) WHERE status = 'pending';
