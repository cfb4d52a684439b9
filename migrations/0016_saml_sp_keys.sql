-- Each organization's SAML service-provider key pair, made the first time
-- its SP metadata is asked for: the certificate goes into the metadata
-- (IdPs encrypt assertions to it, and check signed requests with it); the
-- private key is sealed with the secret box, bound to the organization.
CREATE TABLE saml_sp_keys (
    org_id     TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    key_enc    TEXT NOT NULL,
    cert_b64   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
