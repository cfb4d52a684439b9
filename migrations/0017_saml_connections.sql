-- A connection speaks OpenID Connect or SAML 2.0. For SAML, `issuer` holds
-- the IdP's entity ID, `discovery_url` the metadata URL (empty when the XML
-- was pasted), `claims` the attribute names, and the client columns stay
-- empty. The metadata document is kept whole: responses are verified
-- against the certificates it names.
ALTER TABLE sso_connections ADD COLUMN protocol TEXT NOT NULL DEFAULT 'oidc';
ALTER TABLE sso_connections ADD COLUMN saml_metadata_xml TEXT;
ALTER TABLE sso_connections ADD COLUMN saml_metadata_fetched_at BIGINT;
ALTER TABLE sso_connections ADD COLUMN saml_allow_idp_initiated BIGINT NOT NULL DEFAULT 1;
ALTER TABLE sso_connections ADD COLUMN saml_allow_sha1 BIGINT NOT NULL DEFAULT 0;
-- A staged change of IdP (new entity ID or certificates) waits here for
-- its test, as a staged OIDC change does in the other pending_ columns.
ALTER TABLE sso_connections ADD COLUMN pending_saml_metadata_xml TEXT;
-- After a rotation of the SP key, the previous one still opens assertions
-- encrypted to it, until the IdP has read the new SP metadata.
ALTER TABLE saml_sp_keys ADD COLUMN previous_key_enc TEXT;
