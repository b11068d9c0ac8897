-- This ledger's identity: a random id made with its events' file. The read models'
-- file records it the first time the two open together, and a read models' file that
-- records another is refused (one copied from another ledger would show that
-- ledger's accounts and money as this one's).
CREATE TABLE ledger_identity (
    ledger_id TEXT NOT NULL
);
INSERT INTO ledger_identity (ledger_id) VALUES (lower(hex(randomblob(16))));
