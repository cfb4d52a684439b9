-- When each issuer's key set was last re-fetched for an unknown key, shared
-- by every instance: the once-a-minute limit holds behind a load balancer.
CREATE TABLE sso_jwks_refetches (
    issuer     TEXT PRIMARY KEY,
    fetched_at BIGINT NOT NULL
);
