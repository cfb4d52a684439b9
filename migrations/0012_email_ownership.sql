-- Email ownership is a recorded fact: set by a verification link, by
-- accepting an invitation sent to the address, or by the SSO sign-in that
-- created the account.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
UPDATE users SET email_verified_at = created_at WHERE password_hash IS NULL;

-- One-time links that prove an address (stored as hashes).
CREATE TABLE email_verifications (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX email_verifications_user ON email_verifications (user_id);
