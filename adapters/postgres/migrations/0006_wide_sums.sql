-- Sums of money (an account's total deposits and withdrawals, the analytics totals and
-- day volumes) can exceed the 64-bit range of one amount: deposit the maximum, withdraw
-- it, deposit again. They become exact integers of any size (NUMERIC with no fraction);
-- amounts and balances stay BIGINT.
ALTER TABLE current_state
    ALTER COLUMN total_deposits TYPE NUMERIC(40, 0),
    ALTER COLUMN total_withdrawals TYPE NUMERIC(40, 0);
ALTER TABLE analytics_currency
    ALTER COLUMN total_balance TYPE NUMERIC(40, 0),
    ALTER COLUMN total_deposited TYPE NUMERIC(40, 0),
    ALTER COLUMN total_withdrawn TYPE NUMERIC(40, 0),
    ALTER COLUMN transfer_volume TYPE NUMERIC(40, 0);
ALTER TABLE analytics_daily
    ALTER COLUMN deposit_volume TYPE NUMERIC(40, 0),
    ALTER COLUMN withdrawal_volume TYPE NUMERIC(40, 0),
    ALTER COLUMN transfer_volume TYPE NUMERIC(40, 0);
