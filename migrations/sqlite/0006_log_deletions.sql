-- A job whose session log was deleted: when, by whom, and why (the bytes themselves are gone).
CREATE TABLE log_deletions (
    job_id     INTEGER PRIMARY KEY REFERENCES jobs (id),
    deleted_at INTEGER NOT NULL,    -- ms since the epoch
    deleted_by TEXT    NOT NULL,    -- `agen logs delete`, a GitHub login, or retention
    bytes      INTEGER NOT NULL     -- how many were removed
);
