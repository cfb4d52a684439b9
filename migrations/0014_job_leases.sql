-- A background job that must run once per interval across every instance
-- sharing this database (not once per instance) takes a lease here first.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
