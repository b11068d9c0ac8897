-- Which ledger these read models were made from: the id of the first event of its
-- events' file, recorded the first time the two open together. Read models of another
-- ledger (a file copied from elsewhere) are refused instead of shown as this one's.
CREATE TABLE ledger_identity (
    first_event_id TEXT NOT NULL
);
