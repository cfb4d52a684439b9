-- How an organization's SSO login page looks.
CREATE TABLE org_branding (
    org_id       TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    display_name TEXT,
    -- `#rrggbb`, validated on save.
    accent_color TEXT,
    -- image/png | image/jpeg | image/webp | image/svg+xml, checked by content.
    logo_type    TEXT,
    -- Base64 (portable TEXT column); at most 256 KiB decoded.
    logo_data    TEXT,
    updated_at   BIGINT NOT NULL
);
