-- Domains an organization claims, and their verification state.
CREATE TABLE domains (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    domain          TEXT NOT NULL,
    -- pending | verified | expired
    status          TEXT NOT NULL,
    token           TEXT NOT NULL,
    -- dns | manual, once verified
    method          TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    verified_at     BIGINT,
    last_checked_at BIGINT,
    last_error      TEXT
);
CREATE UNIQUE INDEX domains_org_domain ON domains (org_id, domain);
-- A domain is verified by one organization at most.
CREATE UNIQUE INDEX domains_verified_once ON domains (domain) WHERE status = 'verified';
CREATE INDEX domains_status ON domains (status, expires_at);
