-- TOTP second factor for password sign-ins. The secret is sealed with the
-- server key (AES-GCM, bound to the user id); `confirmed_at` is NULL while
-- enrolment waits for its first code; `last_step` refuses a code twice.
CREATE TABLE user_mfa (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_enc   TEXT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT,
    created_at   BIGINT NOT NULL
);

-- One-time recovery codes, stored as SHA-256 of the (high-entropy) code.
CREATE TABLE mfa_recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

ALTER TABLE organizations ADD COLUMN require_mfa BIGINT NOT NULL DEFAULT 0;
