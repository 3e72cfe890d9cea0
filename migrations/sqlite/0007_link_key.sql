-- The key agen signs job-page links with (HMAC-SHA256 of the job id and expiry): one row,
-- made at first use; replacing it revokes every link given out.
CREATE TABLE link_key (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    key BLOB    NOT NULL
);
