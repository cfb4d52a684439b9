-- Back-channel logout tokens already used, keyed by (issuer, jti): a
-- replayed token is refused on every instance. Rows outlive the window in
-- which a token's `iat` is accepted, then the background job removes them.
CREATE TABLE sso_logout_jtis (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX sso_logout_jtis_expires ON sso_logout_jtis (expires_at);

-- Profile fields from the IdP beyond the name (given/family name, username),
-- synced at each sign-in so changes can be audited.
ALTER TABLE sso_identities ADD COLUMN profile TEXT;
