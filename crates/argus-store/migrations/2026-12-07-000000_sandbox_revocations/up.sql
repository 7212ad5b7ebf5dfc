-- Which environment's token each revocation is for (issue 23). The sandbox
-- API never reads this database: the auth-service publishes the sandbox's
-- unexpired revocations at /.well-known/sandbox/revocations.json, beside
-- the sandbox key set, and the sandbox API polls that list. Rows written
-- before this column (and every grant-family revocation: families are live
-- only) are live.
ALTER TABLE revoked_access_tokens
    ADD COLUMN environment text NOT NULL DEFAULT 'live' CHECK (environment IN ('live', 'sandbox'));

-- The published list is read by expiry, once a second per sandbox replica.
CREATE INDEX revoked_access_tokens_sandbox_idx ON revoked_access_tokens (expires_at) WHERE environment = 'sandbox';
