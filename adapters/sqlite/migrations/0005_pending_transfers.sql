-- Pending (two-phase) transfers and overdraft limits: an account's pending amounts and
-- limit in the current-state view, the pending volume per currency in the analytics
-- (decimal text, as the other sums), and the transfers view (kept by the current-state
-- projection). `view` holds the transfer as the API shows it (JSON). Transfers made
-- before this migration appear in the view after a rebuild of current_state.
ALTER TABLE current_state ADD COLUMN pending_out INTEGER NOT NULL DEFAULT 0;
ALTER TABLE current_state ADD COLUMN pending_in INTEGER NOT NULL DEFAULT 0;
ALTER TABLE current_state ADD COLUMN overdraft_limit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE analytics_currency ADD COLUMN pending_volume TEXT NOT NULL DEFAULT '0';
CREATE TABLE transfers (
    transfer_id      TEXT PRIMARY KEY,
    from_account_id  TEXT NOT NULL,
    to_account_id    TEXT NOT NULL,
    status           TEXT NOT NULL,
    expires_at       INTEGER,
    created_position INTEGER NOT NULL,
    view             TEXT NOT NULL
);
CREATE INDEX transfers_created_idx ON transfers (created_position);
CREATE INDEX transfers_from_idx ON transfers (from_account_id, created_position);
CREATE INDEX transfers_to_idx ON transfers (to_account_id, created_position);
CREATE INDEX transfers_due_idx ON transfers (expires_at) WHERE status = 'pending';
