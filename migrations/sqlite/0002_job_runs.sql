-- What a worker needs to run a job, and what it found out while running it.
ALTER TABLE jobs ADD COLUMN title TEXT NOT NULL DEFAULT '';          -- the issue's, at trigger time
ALTER TABLE jobs ADD COLUMN body TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN requested_by_id INTEGER;                 -- for Co-authored-by
ALTER TABLE jobs ADD COLUMN lease_until INTEGER;                     -- a worker holds it until then
ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;     -- claims so far
ALTER TABLE jobs ADD COLUMN round INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN started_at INTEGER;
ALTER TABLE jobs ADD COLUMN finished_at INTEGER;
ALTER TABLE jobs ADD COLUMN branch TEXT;                             -- agen/…, chosen once
ALTER TABLE jobs ADD COLUMN pr_number INTEGER;
ALTER TABLE jobs ADD COLUMN head_sha TEXT;
ALTER TABLE jobs ADD COLUMN detail TEXT;                             -- one line: why it ended so
ALTER TABLE jobs ADD COLUMN timings TEXT;                            -- JSON: where its time went
CREATE INDEX jobs_claimable ON jobs (state, lease_until);
