-- Every decision agen takes, in order; each entry's hash covers the previous entry's hash and
-- its own fields (see src/store/audit.rs), so a changed, removed or inserted row breaks the chain.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,  -- 1, 2, 3, ... with no gap
    at        INTEGER NOT NULL,     -- ms since the epoch
    kind      TEXT    NOT NULL,     -- delivery_accepted, job_queued, pushed, ...
    repo      TEXT,                 -- owner/name, when the entry is about one
    job_id    INTEGER,
    actor     TEXT,                 -- the GitHub login, when a person caused it
    detail    TEXT    NOT NULL,     -- JSON: the facts, never a secret
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_repo ON audit (repo, seq);
