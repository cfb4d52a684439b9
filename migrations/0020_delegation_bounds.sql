-- A setup link made with an API token is bounded by that token as well as
-- by its creator, and ends with the token.
ALTER TABLE setup_links ADD COLUMN created_by_token TEXT;
-- Test tickets and the test flows they start, when a setup link made
-- them, end with that link.
ALTER TABLE sso_states ADD COLUMN setup_link_id TEXT;
ALTER TABLE saml_requests ADD COLUMN setup_link_id TEXT;
