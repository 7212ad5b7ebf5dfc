-- Foundation: tenants, users, the scope catalog, integration apps, their
-- client secrets, and the RSA keys that sign access tokens.

CREATE TABLE tenants (
    id          text PRIMARY KEY CHECK (id LIKE 'ten\_%'),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             text PRIMARY KEY CHECK (id LIKE 'usr\_%'),
    tenant_id      text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- stored lowercased; one account per address per tenant
    email          text NOT NULL CHECK (email = lower(email)),
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, email)
);

-- The catalog of scopes apps may request. Synced from the code's catalog
-- when migrations run; `published` hides a scope from the public listing
-- without breaking apps that already hold it.
CREATE TABLE scopes (
    name         text PRIMARY KEY,
    description  text NOT NULL,
    published    boolean NOT NULL DEFAULT true
);

CREATE TABLE apps (
    client_id         text PRIMARY KEY CHECK (client_id LIKE 'app\_%'),
    tenant_id         text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    client_type       text NOT NULL CHECK (client_type IN ('confidential', 'public')),
    grant_types       text[] NOT NULL,
    redirect_uris     text[] NOT NULL,
    requested_scopes  text[] NOT NULL,
    approved_scopes   text[] NOT NULL,
    governance        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- Tenant-scoped listing walks this index in id (= creation) order.
CREATE INDEX apps_tenant_client_idx ON apps (tenant_id, client_id);

-- A confidential app holds one secret, two during a rotation's grace period.
-- Only a keyed hash is kept.
CREATE TABLE client_secrets (
    id           text PRIMARY KEY CHECK (id LIKE 'sec\_%'),
    client_id    text NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    secret_hash  bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz
);
CREATE INDEX client_secrets_client_idx ON client_secrets (client_id);

-- RS256 signing keys. `next` is published before it signs so verifiers
-- cache it ahead of a rotation; `retired` stays published until
-- `publish_until`, when every token it signed has expired.
CREATE TABLE signing_keys (
    kid              text PRIMARY KEY,
    state            text NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    private_key_pem  text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    activated_at     timestamptz,
    retired_at       timestamptz,
    publish_until    timestamptz,
    CHECK ((state = 'retired') = (retired_at IS NOT NULL AND publish_until IS NOT NULL))
);
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';
