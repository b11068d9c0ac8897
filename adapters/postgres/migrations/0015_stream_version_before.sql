-- The last version of stream `s` recorded below feed position `p` (0 if none; every
-- version when `p` is NULL): a stream's positions grow with its versions, so this is
-- a binary search over the stream's `(stream_id, version)` index, about log2(versions)
-- lookups, however far back `p` lies. `GET /audit` pages a stream (and an owner's
-- streams) with it: the cursor's position becomes each stream's version bound.
CREATE FUNCTION ledger_stream_version_before(s TEXT, p BIGINT) RETURNS BIGINT
LANGUAGE plpgsql STABLE AS $$
DECLARE
    lo BIGINT := 0;
    hi BIGINT;
    mid BIGINT;
    pos BIGINT;
BEGIN
    IF p IS NULL THEN
        RETURN 9223372036854775807;
    END IF;
    SELECT max(version) INTO hi FROM events WHERE stream_id = s;
    IF hi IS NULL THEN
        RETURN 0;
    END IF;
    WHILE lo < hi LOOP
        mid := lo + (hi - lo + 1) / 2;
        SELECT position INTO pos FROM events WHERE stream_id = s AND version = mid;
        IF pos < p THEN
            lo := mid;
        ELSE
            hi := mid - 1;
        END IF;
    END LOOP;
    RETURN lo;
END;
$$;
