-- A sign-in (or test) in flight, keyed by its OAuth `state`: everything the
-- callback must check, removed on first use. A `test_ticket` row is the
-- one-time link that starts a test.
CREATE TABLE sso_states (
    state         TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    return_to     TEXT,
    user_id       TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sso_states_expires ON sso_states (expires_at);

-- An IdP identity, keyed by (issuer, subject), never by email.
CREATE TABLE sso_identities (
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email         TEXT,
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX sso_identities_user ON sso_identities (user_id);

-- What the last test brought back (claims, domain, role), shown to admins.
ALTER TABLE sso_connections ADD COLUMN last_test_claims TEXT;
