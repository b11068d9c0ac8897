-- Sums of money (an account's total deposits and withdrawals, the analytics totals and
-- day volumes) can exceed the 64-bit range of one amount: deposit the maximum, withdraw
-- it, deposit again. SQLite's integers are 64-bit (an overflow turns into a float), so
-- these columns hold the exact count of minor units as decimal text, added up in Rust
-- (i128) inside the projection's transaction. Amounts and balances stay INTEGER.
CREATE TABLE current_state_wide (
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
    closed_at         INTEGER
);
INSERT INTO current_state_wide SELECT account_id, owner, currency, balance, status, version,
    CAST(total_deposits AS TEXT), CAST(total_withdrawals AS TEXT), transaction_count,
    opened_at, updated_at, closed_at FROM current_state;
DROP TABLE current_state;
ALTER TABLE current_state_wide RENAME TO current_state;
CREATE INDEX current_state_owner_idx ON current_state (owner, account_id);

CREATE TABLE analytics_currency_wide (
    currency        TEXT PRIMARY KEY,
    open_accounts   INTEGER NOT NULL DEFAULT 0 CHECK (typeof(open_accounts) = 'integer'),
    closed_accounts INTEGER NOT NULL DEFAULT 0 CHECK (typeof(closed_accounts) = 'integer'),
    total_balance   TEXT NOT NULL DEFAULT '0' CHECK (typeof(total_balance) = 'text'),
    total_deposited TEXT NOT NULL DEFAULT '0' CHECK (typeof(total_deposited) = 'text'),
    total_withdrawn TEXT NOT NULL DEFAULT '0' CHECK (typeof(total_withdrawn) = 'text'),
    transfer_volume TEXT NOT NULL DEFAULT '0' CHECK (typeof(transfer_volume) = 'text'),
    event_count     INTEGER NOT NULL DEFAULT 0 CHECK (typeof(event_count) = 'integer')
);
INSERT INTO analytics_currency_wide SELECT currency, open_accounts, closed_accounts,
    CAST(total_balance AS TEXT), CAST(total_deposited AS TEXT), CAST(total_withdrawn AS TEXT),
    CAST(transfer_volume AS TEXT), event_count FROM analytics_currency;
DROP TABLE analytics_currency;
ALTER TABLE analytics_currency_wide RENAME TO analytics_currency;

CREATE TABLE analytics_daily_wide (
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
INSERT INTO analytics_daily_wide SELECT day, currency, deposit_count,
    CAST(deposit_volume AS TEXT), withdrawal_count, CAST(withdrawal_volume AS TEXT),
    transfer_count, CAST(transfer_volume AS TEXT) FROM analytics_daily;
DROP TABLE analytics_daily;
ALTER TABLE analytics_daily_wide RENAME TO analytics_daily;
