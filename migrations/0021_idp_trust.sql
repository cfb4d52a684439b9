-- An account made by SSO belongs to the identity provider (organization
-- and issuer) that made it: another IdP never takes it over by email
-- alone. Accounts without a password take the IdP of their first identity.
ALTER TABLE users ADD COLUMN sso_origin_org TEXT;
ALTER TABLE users ADD COLUMN sso_origin_issuer TEXT;
UPDATE users SET
    sso_origin_org = (SELECT i.org_id FROM sso_identities i WHERE i.user_id = users.id
                      ORDER BY i.created_at, i.issuer LIMIT 1),
    sso_origin_issuer = (SELECT i.issuer FROM sso_identities i WHERE i.user_id = users.id
                         ORDER BY i.created_at, i.issuer LIMIT 1)
WHERE password_hash IS NULL;
-- A change of trust staged by a setup link or a role short of admin (or
-- by the daily metadata refresh) waits for an admin's approval, even after
-- its test passed. The staged claim names (the email claim decides who a
-- person is) and whether to carry accounts over wait with it.
ALTER TABLE sso_connections ADD COLUMN pending_needs_approval BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sso_connections ADD COLUMN pending_saved_by TEXT;
ALTER TABLE sso_connections ADD COLUMN pending_tested_at BIGINT;
ALTER TABLE sso_connections ADD COLUMN pending_test_claims TEXT;
ALTER TABLE sso_connections ADD COLUMN pending_claims TEXT;
ALTER TABLE sso_connections ADD COLUMN pending_carry_over BIGINT NOT NULL DEFAULT 0;
-- 0 while the IdP in effect was put there by someone short of admin and
-- no admin has approved it: just-in-time provisioning stays off meanwhile.
ALTER TABLE sso_connections ADD COLUMN trust_approved BIGINT NOT NULL DEFAULT 1;
-- An admin's decision (an IdP migration): an account of this organization
-- made by another of its IdPs is carried over to this one when its email
-- matches. Off unless an admin turns it on with a change of IdP.
ALTER TABLE sso_connections ADD COLUMN carry_over_accounts BIGINT NOT NULL DEFAULT 0;
