-- AES-CBC (unauthenticated encryption) is accepted only where the admin
-- allows it. Connections made before keep what they decrypted so far; new
-- ones start without it.
ALTER TABLE sso_connections ADD COLUMN saml_allow_aes_cbc BIGINT NOT NULL DEFAULT 0;
UPDATE sso_connections SET saml_allow_aes_cbc = 1 WHERE protocol = 'saml';
