-- Every model call a job's sessions made through the gateway: reserved before it goes out
-- (the worst case it can cost), settled when its answer ends. A row whose cost is NULL is in
-- flight and counts at its reservation, so concurrent calls can never overshoot a cap.
CREATE TABLE model_calls (
    id              INTEGER PRIMARY KEY,
    job_id          INTEGER NOT NULL REFERENCES jobs (id),
    repo_id         INTEGER NOT NULL,
    repo            TEXT    NOT NULL,
    installation_id INTEGER NOT NULL,
    month           TEXT    NOT NULL,               -- 'YYYY-MM', UTC, when the call started
    provider        TEXT    NOT NULL,               -- anthropic | openai
    route           TEXT    NOT NULL,               -- messages, chat_completions, ...
    model           TEXT    NOT NULL,
    reserved_micro  INTEGER NOT NULL,               -- micro-USD held while in flight
    cost_micro      INTEGER,                        -- micro-USD charged; NULL while in flight
    tokens_in       INTEGER NOT NULL DEFAULT 0,     -- input, cache writes and reads included
    tokens_out      INTEGER NOT NULL DEFAULT 0,
    cache_write     INTEGER NOT NULL DEFAULT 0,
    cache_read      INTEGER NOT NULL DEFAULT 0,
    status          INTEGER,                        -- the provider's HTTP status
    outcome         TEXT,                           -- completed | error | cut | interrupted
    started_at      INTEGER NOT NULL,
    duration_ms     INTEGER
);
CREATE INDEX model_calls_job ON model_calls (job_id);
CREATE INDEX model_calls_repo_month ON model_calls (repo_id, month);
CREATE INDEX model_calls_installation_month ON model_calls (installation_id, month);

-- The CPU time the job's sessions used, summed (its CPU budget counts against it).
ALTER TABLE jobs ADD COLUMN cpu_ms INTEGER NOT NULL DEFAULT 0;
-- The job's own spend cap in micro-USD, set when it starts (for the reports).
ALTER TABLE jobs ADD COLUMN budget_micro INTEGER;
