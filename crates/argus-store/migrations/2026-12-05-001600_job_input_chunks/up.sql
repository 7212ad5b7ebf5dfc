-- import.bulk inputs in chunks of whole NDJSON lines (about 1 MiB each),
-- written as the request streams in, so neither the api-service nor the
-- worker ever holds a whole input. The foreign key is checked at commit:
-- the API writes the chunks before it knows the rest of the job.
CREATE TABLE job_input_chunks (
    job_id     text    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    tenant_id  text    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    -- The 1-based NDJSON line number the chunk starts with (blank lines count).
    first_line bigint  NOT NULL,
    -- Uncompressed size: what the tenant's job storage quota counts.
    bytes      integer NOT NULL,
    data       bytea   COMPRESSION lz4 NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX job_input_chunks_tenant_idx ON job_input_chunks (tenant_id);

-- How far an import got: `{"line", "chunk", ...tallies}` after each batch,
-- written by the attempt that holds the job.
ALTER TABLE jobs ADD COLUMN checkpoint jsonb;

-- Inputs of unfinished jobs move into chunks; finished jobs drop theirs.
INSERT INTO job_input_chunks (job_id, tenant_id, seq, first_line, bytes, data)
SELECT id, tenant_id, 0, 1, octet_length(payload), payload
FROM jobs
WHERE payload IS NOT NULL AND status IN ('queued', 'running');
ALTER TABLE jobs DROP COLUMN payload;
