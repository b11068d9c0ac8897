-- The read models' own file, beside the events' file (`ledger.db` → `ledger-read-models.db`):
-- the projections write here through a writer of their own, so that they never wait
-- for SQLite's one write lock of the events' file, nor appends for them. Rows and their
-- projection's checkpoint move in one transaction of this file. Everything here is
-- made from the events: a missing file is created and filled again from the feed.
-- A rebuild fills copies of these tables (made from their stored DDL), then swaps them in.
-- Sums are checked to stay integers (SQLite would silently turn an overflow into a float);
-- wide sums are decimal text. Money columns are minor units; times are Unix microseconds;
-- days are 'YYYY-MM-DD'.
CREATE TABLE projections (
    name             TEXT PRIMARY KEY,
    state            TEXT NOT NULL DEFAULT 'live',
    tx               INTEGER NOT NULL DEFAULT 0,
    position         INTEGER NOT NULL DEFAULT 0,
    rebuild_tx       INTEGER,
    rebuild_position INTEGER,
    last_error       TEXT
);
INSERT INTO projections (name) VALUES ('current_state'), ('analytics'), ('audit_log');

CREATE TABLE current_state (
    account_id        TEXT PRIMARY KEY,
    owner             TEXT NOT NULL,
    currency          TEXT NOT NULL,
    balance           INTEGER NOT NULL,
    status            TEXT NOT NULL,
    version           INTEGER NOT NULL,
    total_deposits    TEXT NOT NULL CHECK (typeof(total_deposits) = 'text'),
    total_withdrawals TEXT NOT NULL CHECK (typeof(total_withdrawals) = 'text'),
    transaction_count INTEGER NOT NULL,
    opened_at         INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    closed_at         INTEGER,
    pending_out       INTEGER NOT NULL DEFAULT 0,
    pending_in        INTEGER NOT NULL DEFAULT 0,
    overdraft_limit   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX current_state_owner_idx ON current_state (owner, account_id);

-- Each transfer's view (JSON) with the columns it is found by.
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
-- The expirer takes due transfers in (expires_at, transfer_id) order.
CREATE INDEX transfers_due_idx ON transfers (expires_at, transfer_id) WHERE status = 'pending';

CREATE TABLE analytics_currency (
    currency        TEXT PRIMARY KEY,
    open_accounts   INTEGER NOT NULL DEFAULT 0 CHECK (typeof(open_accounts) = 'integer'),
    closed_accounts INTEGER NOT NULL DEFAULT 0 CHECK (typeof(closed_accounts) = 'integer'),
    total_balance   TEXT NOT NULL DEFAULT '0' CHECK (typeof(total_balance) = 'text'),
    total_deposited TEXT NOT NULL DEFAULT '0' CHECK (typeof(total_deposited) = 'text'),
    total_withdrawn TEXT NOT NULL DEFAULT '0' CHECK (typeof(total_withdrawn) = 'text'),
    transfer_volume TEXT NOT NULL DEFAULT '0' CHECK (typeof(transfer_volume) = 'text'),
    event_count     INTEGER NOT NULL DEFAULT 0 CHECK (typeof(event_count) = 'integer'),
    pending_volume  TEXT NOT NULL DEFAULT '0' CHECK (typeof(pending_volume) = 'text')
);
CREATE TABLE analytics_daily (
    day               TEXT NOT NULL,
    currency          TEXT NOT NULL,
    deposit_count     INTEGER NOT NULL DEFAULT 0 CHECK (typeof(deposit_count) = 'integer'),
    deposit_volume    TEXT NOT NULL DEFAULT '0' CHECK (typeof(deposit_volume) = 'text'),
    withdrawal_count  INTEGER NOT NULL DEFAULT 0 CHECK (typeof(withdrawal_count) = 'integer'),
    withdrawal_volume TEXT NOT NULL DEFAULT '0' CHECK (typeof(withdrawal_volume) = 'text'),
    transfer_count    INTEGER NOT NULL DEFAULT 0 CHECK (typeof(transfer_count) = 'integer'),
    transfer_volume   TEXT NOT NULL DEFAULT '0' CHECK (typeof(transfer_volume) = 'text'),
    PRIMARY KEY (day, currency)
);

-- One row per event, in feed order.
CREATE TABLE audit_log (
    position    INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    stream_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    request_id  TEXT,
    recorded_at INTEGER NOT NULL,
    amount      INTEGER,
    currency    TEXT
);
CREATE INDEX audit_log_stream_idx ON audit_log (stream_id, position);
CREATE INDEX audit_log_type_idx ON audit_log (event_type, position);
CREATE INDEX audit_log_request_idx ON audit_log (request_id, position);
