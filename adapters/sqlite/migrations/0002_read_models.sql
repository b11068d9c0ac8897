-- Read models fed by the projection runner; rows and checkpoint move in one transaction.
-- A rebuild fills copies of these tables (made from their stored DDL), then swaps them in.
-- Sums are checked to stay integers (SQLite would silently turn an overflow into a float).
-- Money columns are minor units; times are Unix microseconds; days are 'YYYY-MM-DD'.
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
    total_deposits    INTEGER NOT NULL,
    total_withdrawals INTEGER NOT NULL,
    transaction_count INTEGER NOT NULL,
    opened_at         INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    closed_at         INTEGER
);
CREATE INDEX current_state_owner_idx ON current_state (owner, account_id);

CREATE TABLE analytics_currency (
    currency        TEXT PRIMARY KEY,
    open_accounts INTEGER NOT NULL DEFAULT 0 CHECK (typeof(open_accounts) = 'integer'),
    closed_accounts INTEGER NOT NULL DEFAULT 0 CHECK (typeof(closed_accounts) = 'integer'),
    total_balance INTEGER NOT NULL DEFAULT 0 CHECK (typeof(total_balance) = 'integer'),
    total_deposited INTEGER NOT NULL DEFAULT 0 CHECK (typeof(total_deposited) = 'integer'),
    total_withdrawn INTEGER NOT NULL DEFAULT 0 CHECK (typeof(total_withdrawn) = 'integer'),
    transfer_volume INTEGER NOT NULL DEFAULT 0 CHECK (typeof(transfer_volume) = 'integer'),
    event_count INTEGER NOT NULL DEFAULT 0 CHECK (typeof(event_count) = 'integer')
);

CREATE TABLE analytics_daily (
    day               TEXT NOT NULL,
    currency          TEXT NOT NULL,
    deposit_count INTEGER NOT NULL DEFAULT 0 CHECK (typeof(deposit_count) = 'integer'),
    deposit_volume INTEGER NOT NULL DEFAULT 0 CHECK (typeof(deposit_volume) = 'integer'),
    withdrawal_count INTEGER NOT NULL DEFAULT 0 CHECK (typeof(withdrawal_count) = 'integer'),
    withdrawal_volume INTEGER NOT NULL DEFAULT 0 CHECK (typeof(withdrawal_volume) = 'integer') CHECK (typeof(withdrawal_volume) = 'integer'),
    transfer_count INTEGER NOT NULL DEFAULT 0 CHECK (typeof(transfer_count) = 'integer'),
    transfer_volume INTEGER NOT NULL DEFAULT 0 CHECK (typeof(transfer_volume) = 'integer'),
    PRIMARY KEY (day, currency)
);

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
