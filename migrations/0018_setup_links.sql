-- Setup links: an admin lets someone without an account (the customer's IT
-- person) set up domains, SSO and provisioning of one organization. The
-- link's token is stored as a SHA-256 hash; the link's rights are its
-- scopes, bounded by its creator's current rights.
CREATE TABLE setup_links (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    created_by   TEXT REFERENCES users (id) ON DELETE SET NULL,
    creator_name TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX setup_links_org ON setup_links (org_id, created_at);
