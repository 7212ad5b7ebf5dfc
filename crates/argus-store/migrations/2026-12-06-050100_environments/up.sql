-- Which environment this database belongs to (issue 23): one row, written
-- by `argusctl migrate` with ARGUS_ENV (and by a service started with
-- ARGUS_MIGRATE=1); every service refuses to start on a database of the
-- other environment, or on one no migrate has claimed yet.
CREATE TABLE deployment_environment (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    environment text NOT NULL CHECK (environment IN ('live', 'sandbox')),
    claimed_at  timestamptz NOT NULL DEFAULT now()
);

-- Two key sets: live tokens and sandbox tokens are signed by different
-- keys, each set rotated on its own and published at its own JWKS.
ALTER TABLE signing_keys
    ADD COLUMN key_set text NOT NULL DEFAULT 'live' CHECK (key_set IN ('live', 'sandbox'));
DROP INDEX signing_keys_one_current;
DROP INDEX signing_keys_one_next;
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (key_set) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (key_set) WHERE state = 'next';
