-- Which ledger these read models were made from: the `ledger_identity` of its events'
-- file, recorded the first time the two open together. Read models of another ledger
-- (a file copied from elsewhere) are refused instead of shown as this one's.
CREATE TABLE ledger_identity (
    ledger_id TEXT NOT NULL
);
