-- OAuth 2.0 state: browser sessions, authorization codes, refresh-token
-- families, revoked access tokens, and sign-in failure counters. Every
-- secret value (session id, code, refresh token) is stored only as a keyed
-- hash.

CREATE TABLE sessions (
    id_hash     bytea PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);

-- A refresh-token family: everything issued from one authorization grant.
-- Revoking the family kills every refresh token in it and, through
-- `revoked_access_tokens`, the access tokens it minted.
CREATE TABLE grant_families (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id   text NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    user_id     text REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE authorization_codes (
    code_hash              bytea PRIMARY KEY,
    tenant_id              text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id              text NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    user_id                text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id              text NOT NULL REFERENCES grant_families (id) ON DELETE CASCADE,
    redirect_uri           text NOT NULL,
    scopes                 text[] NOT NULL,
    code_challenge         text,
    code_challenge_method  text CHECK (code_challenge_method IN ('S256')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    expires_at             timestamptz NOT NULL,
    consumed_at            timestamptz
);

CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    family_id   text NOT NULL REFERENCES grant_families (id) ON DELETE CASCADE,
    tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id   text NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    user_id     text REFERENCES users (id) ON DELETE CASCADE,
    scopes      text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- Access tokens issued under a grant family, so revoking the family can
-- deny-list them until they expire.
CREATE TABLE issued_access_tokens (
    jti         text PRIMARY KEY,
    family_id   text NOT NULL REFERENCES grant_families (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX issued_access_tokens_family_idx ON issued_access_tokens (family_id);

CREATE TABLE revoked_access_tokens (
    jti         text PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);

-- Consecutive failed sign-ins per tenant and email, for the lock-out delay.
CREATE TABLE sign_in_failures (
    tenant_id     text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email         text NOT NULL,
    failures      integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, email)
);
