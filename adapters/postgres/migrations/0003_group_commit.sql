-- Group commit: concurrent appends share one INSERT statement (and so one commit).
-- The statement calls this with "every row and every idempotency key went in"; when
-- one did not (a stale or ahead expected version, a stored key), it raises, the whole
-- statement rolls back, and the writer retries each append on its own to give each its
-- precise answer.
CREATE FUNCTION ledger_batch_check(complete BOOLEAN) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT complete THEN
        RAISE EXCEPTION 'ledger: a grouped append was incomplete'
            USING ERRCODE = 'LG001';
    END IF;
END
$$;
