-- Audit entries of events without an amount (AccountOpened, AccountClosed) now carry
-- their account's currency too. Entries written before get it here, from the opening
-- event of their stream (what a rebuild would write).
UPDATE audit_log a SET currency = o.data->>'currency'
FROM events o
WHERE a.currency IS NULL
  AND o.stream_id = a.stream_id
  AND o.version = 1
  AND o.event_type IN ('AccountOpened', 'AccountCreated');
