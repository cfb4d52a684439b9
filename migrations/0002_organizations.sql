-- Custom roles, invitations and the audit log.

CREATE TABLE roles (
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- Space-separated permission names, e.g. `members:read audit:read`.
    permissions TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, name)
);

CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    invited_by  TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    accepted_at BIGINT,
    accepted_by TEXT,
    revoked_at  BIGINT
);
CREATE INDEX invitations_org ON invitations (org_id);
CREATE INDEX invitations_email ON invitations (email);

-- Append-only: the application never updates or deletes these rows.
CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    actor_type   TEXT NOT NULL,
    actor_id     TEXT,
    actor_label  TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_type  TEXT,
    target_id    TEXT,
    target_label TEXT,
    details      TEXT NOT NULL DEFAULT '{}',
    ip           TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX audit_events_org_time ON audit_events (org_id, created_at, id);
