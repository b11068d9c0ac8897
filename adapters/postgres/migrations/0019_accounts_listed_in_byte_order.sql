-- `GET /accounts` lists accounts by id, compared byte by byte (COLLATE "C"), as SQLite
-- and the memory store compare them: on a database whose collation is a language's
-- (an ICU or glibc `en_US` locale), `ORDER BY account_id` put `a` before `B` and `_x`
-- first, so the order of the list (and of its pages) hung on how the database was
-- made. These indexes give the list, and the page after a cursor, in byte order without
-- a sort.
CREATE INDEX current_state_id_bytes_idx ON current_state (account_id COLLATE "C");
DROP INDEX IF EXISTS current_state_owner_idx;
CREATE INDEX current_state_owner_idx ON current_state (owner, account_id COLLATE "C");
DROP INDEX IF EXISTS current_state_status_idx;
CREATE INDEX current_state_status_idx ON current_state (status, account_id COLLATE "C");
