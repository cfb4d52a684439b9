-- An SSO identity belongs to one organization: the same (iss, sub) at two
-- organizations (a multi-tenant issuer shared by both) are two identities,
-- so one organization's IdP can never sign someone into another's account.
CREATE TABLE sso_identities_by_org (
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         TEXT,
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT,
    profile       TEXT,
    PRIMARY KEY (org_id, issuer, subject)
);
INSERT INTO sso_identities_by_org (org_id, issuer, subject, user_id, email, created_at, last_login_at, profile)
    SELECT org_id, issuer, subject, user_id, email, created_at, last_login_at, profile FROM sso_identities;
DROP TABLE sso_identities;
ALTER TABLE sso_identities_by_org RENAME TO sso_identities;
CREATE INDEX sso_identities_user ON sso_identities (user_id);
