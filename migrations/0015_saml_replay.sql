-- SAML: AuthnRequests a browser has outstanding (single use: taking one
-- deletes it), and assertion IDs already accepted, keyed by the IdP's
-- entity ID and kept until the assertion would have expired, so a replayed
-- assertion is refused on every instance.
CREATE TABLE saml_requests (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    return_to  TEXT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX saml_requests_expires ON saml_requests (expires_at);

CREATE TABLE saml_assertion_ids (
    issuer       TEXT NOT NULL,
    assertion_id TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (issuer, assertion_id)
);
CREATE INDEX saml_assertion_ids_expires ON saml_assertion_ids (expires_at);
