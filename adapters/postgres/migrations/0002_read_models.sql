-- Read models fed by the projection runner. Each projection's rows and checkpoint move
-- in one transaction. A rebuild fills `<table>__rebuild` copies, then swaps them in.
CREATE TABLE projections (
    name             TEXT PRIMARY KEY,
    state            TEXT NOT NULL DEFAULT 'live',
    tx               BIGINT NOT NULL DEFAULT 0,
    position         BIGINT NOT NULL DEFAULT 0,
    rebuild_tx       BIGINT,
    rebuild_position BIGINT,
    last_error       TEXT
);
INSERT INTO projections (name) VALUES ('current_state'), ('analytics'), ('audit_log');

CREATE TABLE current_state (
    account_id        TEXT PRIMARY KEY,
    owner             TEXT NOT NULL,
    currency          TEXT NOT NULL,
    balance           BIGINT NOT NULL,
    status            TEXT NOT NULL,
    version           BIGINT NOT NULL,
    total_deposits    BIGINT NOT NULL,
    total_withdrawals BIGINT NOT NULL,
    transaction_count BIGINT NOT NULL,
    opened_at         TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    closed_at         TIMESTAMPTZ
);
CREATE INDEX current_state_owner_idx ON current_state (owner, account_id);
CREATE INDEX current_state_status_idx ON current_state (status, account_id);

CREATE TABLE analytics_currency (
    currency        TEXT PRIMARY KEY,
    open_accounts   BIGINT NOT NULL DEFAULT 0,
    closed_accounts BIGINT NOT NULL DEFAULT 0,
    total_balance   BIGINT NOT NULL DEFAULT 0,
    total_deposited BIGINT NOT NULL DEFAULT 0,
    total_withdrawn BIGINT NOT NULL DEFAULT 0,
    transfer_volume BIGINT NOT NULL DEFAULT 0,
    event_count     BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE analytics_daily (
    day               DATE NOT NULL,
    currency          TEXT NOT NULL,
    deposit_count     BIGINT NOT NULL DEFAULT 0,
    deposit_volume    BIGINT NOT NULL DEFAULT 0,
    withdrawal_count  BIGINT NOT NULL DEFAULT 0,
    withdrawal_volume BIGINT NOT NULL DEFAULT 0,
    transfer_count    BIGINT NOT NULL DEFAULT 0,
    transfer_volume   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, currency)
);

CREATE TABLE audit_log (
    position    BIGINT PRIMARY KEY,
    event_id    UUID NOT NULL,
    event_type  TEXT NOT NULL,
    stream_id   TEXT NOT NULL,
    version     BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    request_id  TEXT,
    recorded_at TIMESTAMPTZ NOT NULL,
    amount      BIGINT,
    currency    TEXT
);
CREATE INDEX audit_log_stream_idx ON audit_log (stream_id, position);
CREATE INDEX audit_log_type_idx ON audit_log (event_type, position);
CREATE INDEX audit_log_request_idx ON audit_log (request_id, position);
CREATE INDEX audit_log_time_idx ON audit_log (recorded_at);
