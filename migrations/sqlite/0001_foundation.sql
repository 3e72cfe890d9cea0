-- Every webhook agen answered 2xx to, as received. Written before the answer is sent.
CREATE TABLE inbox (
    seq             INTEGER PRIMARY KEY,
    delivery_id     TEXT    NOT NULL UNIQUE,
    event           TEXT    NOT NULL,
    action          TEXT,
    installation_id INTEGER,
    body            BLOB    NOT NULL,          -- LZ4, size-prepended: the exact bytes GitHub signed
    received_at     INTEGER NOT NULL,          -- unix milliseconds
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_until     INTEGER,                   -- an intake holds it until then
    processed_at    INTEGER,
    outcome         TEXT
);
CREATE INDEX inbox_pending ON inbox (seq) WHERE processed_at IS NULL;

CREATE TABLE installations (
    id                   INTEGER PRIMARY KEY,
    account              TEXT    NOT NULL,
    repository_selection TEXT    NOT NULL,
    suspended            INTEGER NOT NULL DEFAULT 0,
    removed              INTEGER NOT NULL DEFAULT 0,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE repositories (
    id              INTEGER PRIMARY KEY,
    installation_id INTEGER NOT NULL,
    full_name       TEXT    NOT NULL,
    private         INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX repositories_installation ON repositories (installation_id);

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY,
    delivery_id       TEXT    NOT NULL UNIQUE,  -- one job per triggering delivery
    installation_id   INTEGER NOT NULL,
    repo_id           INTEGER NOT NULL,
    repo              TEXT    NOT NULL,
    issue             INTEGER NOT NULL,
    is_pull_request   INTEGER NOT NULL,
    state             TEXT    NOT NULL,
    trig              TEXT    NOT NULL,
    requested_by      TEXT    NOT NULL,
    instructions      TEXT    NOT NULL,
    status_comment_id INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX jobs_issue ON jobs (repo_id, issue);
CREATE INDEX jobs_state ON jobs (state);

-- Idempotency keys for effects on GitHub: an effect whose key is done is never repeated.
CREATE TABLE effects (
    key        TEXT    PRIMARY KEY,
    state      TEXT    NOT NULL,               -- started | done
    result     TEXT,
    updated_at INTEGER NOT NULL
);
