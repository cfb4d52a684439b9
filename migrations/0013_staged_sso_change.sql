-- A change of provider, client ID or client secret made while a tested
-- configuration serves is kept here until a test of it passes; sign-ins
-- keep using the tested one meanwhile.
ALTER TABLE sso_connections ADD COLUMN pending_discovery_url TEXT;
ALTER TABLE sso_connections ADD COLUMN pending_issuer TEXT;
ALTER TABLE sso_connections ADD COLUMN pending_client_id TEXT;
ALTER TABLE sso_connections ADD COLUMN pending_client_secret_enc TEXT;
ALTER TABLE sso_connections ADD COLUMN pending_saved_at BIGINT;
ALTER TABLE sso_connections ADD COLUMN pending_last_error TEXT;
