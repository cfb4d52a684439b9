-- One OpenID Connect connection per organization.
CREATE TABLE sso_connections (
    org_id               TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    -- Random, unguessable: /sso/<login_id> is the branded login page.
    login_id             TEXT NOT NULL UNIQUE,
    provider_label       TEXT NOT NULL,
    discovery_url        TEXT NOT NULL,
    issuer               TEXT NOT NULL,
    client_id            TEXT NOT NULL,
    -- AES-256-GCM, bound to the organization id; never leaves the server.
    client_secret_enc    TEXT NOT NULL,
    scopes               TEXT NOT NULL,
    claims               TEXT NOT NULL,
    enabled              BIGINT NOT NULL DEFAULT 0,
    require_sso          BIGINT NOT NULL DEFAULT 0,
    session_max_age_secs BIGINT NOT NULL,
    jit_enabled          BIGINT NOT NULL DEFAULT 1,
    default_role         TEXT NOT NULL DEFAULT 'member',
    role_mappings        TEXT NOT NULL DEFAULT '[]',
    last_test_ok         BIGINT,
    last_test_at         BIGINT,
    last_test_error      TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
