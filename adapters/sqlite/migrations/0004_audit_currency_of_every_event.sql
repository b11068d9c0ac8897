-- Audit entries of events without an amount (AccountOpened, AccountClosed) now carry
-- their account's currency too. Entries written before get it here, from the opening
-- event of their stream (what a rebuild would write).
UPDATE audit_log SET currency = (
    SELECT json_extract(o.data, '$.currency') FROM events o
    WHERE o.stream_id = audit_log.stream_id AND o.version = 1
      AND o.event_type IN ('AccountOpened', 'AccountCreated')
)
WHERE currency IS NULL;
