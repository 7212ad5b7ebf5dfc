-- Async jobs (`/v1/jobs`), their streamed results, Idempotency-Key replay,
-- and the external ids bulk imports upsert by.

-- External ids: what an importer calls a row in its own system. Unique per
-- tenant (NULLs, i.e. rows not imported, never collide).
ALTER TABLE entities ADD COLUMN external_id text CHECK (char_length(external_id) BETWEEN 1 AND 200);
ALTER TABLE entities ADD CONSTRAINT entities_tenant_external_id_key UNIQUE (tenant_id, external_id);
ALTER TABLE relationships ADD COLUMN external_id text CHECK (char_length(external_id) BETWEEN 1 AND 200);
ALTER TABLE relationships ADD CONSTRAINT relationships_tenant_external_id_key UNIQUE (tenant_id, external_id);
ALTER TABLE incidents ADD COLUMN external_id text CHECK (char_length(external_id) BETWEEN 1 AND 200);
ALTER TABLE incidents ADD CONSTRAINT incidents_tenant_external_id_key UNIQUE (tenant_id, external_id);

CREATE TABLE jobs (
    id                      text PRIMARY KEY CHECK (id LIKE 'job\_%'),
    tenant_id               text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- the app that enqueued it
    client_id               text NOT NULL,
    kind                    text NOT NULL,
    status                  text NOT NULL DEFAULT 'queued'
                            CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    input                   jsonb NOT NULL,
    -- a large input kept out of `input` (import.bulk's NDJSON)
    payload                 bytea,
    progress                double precision NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    -- how many times a worker claimed it; the result chunks of the attempt
    -- that finished are the result
    attempts                integer NOT NULL DEFAULT 0,
    lease_expires_at        timestamptz,
    cancel_requested        boolean NOT NULL DEFAULT false,
    error                   jsonb,
    result_content_type     text,
    result_bytes            bigint,
    callback_url            text,
    -- the callback's whsec_ secret, sealed like webhook secrets
    callback_secret_sealed  bytea,
    callback_status         text CHECK (callback_status IN ('pending', 'succeeded', 'failed')),
    callback_attempts       integer NOT NULL DEFAULT 0,
    callback_last_error     text,
    -- the job.succeeded|failed|cancelled event, once finished
    event_id                text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    started_at              timestamptz,
    finished_at             timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK ((callback_url IS NULL) = (callback_secret_sealed IS NULL))
);
CREATE INDEX jobs_tenant_idx ON jobs (tenant_id, id);
CREATE INDEX jobs_tenant_status_idx ON jobs (tenant_id, status, id);
CREATE INDEX jobs_tenant_kind_idx ON jobs (tenant_id, kind, id);

-- A finished job's result, in order, in chunks of at most a few MiB, so it
-- is written and streamed without one huge value.
CREATE TABLE job_result_chunks (
    job_id   text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt  integer NOT NULL,
    seq      integer NOT NULL,
    data     bytea NOT NULL,
    PRIMARY KEY (job_id, attempt, seq)
);

-- The first response to each Idempotency-Key of an app in a tenant: kept
-- 24 h and replayed for the same request; `status` is NULL while the first
-- request is in flight.
CREATE TABLE idempotency_keys (
    tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id    text NOT NULL,
    key          text NOT NULL,
    fingerprint  text NOT NULL,
    status       integer,
    location     text,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, client_id, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
