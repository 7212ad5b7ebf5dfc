-- The tenant-scoped span store behind GET /v1/observability/traces/{id}.
-- Every service writes the finished spans of a tenant's work here, one row
-- per tenant per flush: `spans` is an OTLP ResourceSpans message (protobuf)
-- holding up to a thousand spans, and `trace_keys` lists the traces they
-- belong to by the low 64 bits of their ids (the random part, W3C Trace
-- Context level 2), GIN-indexed so a lookup finds the few rows of one
-- trace; the reader drops any other trace that shares the key. A row per
-- span would cost PostgreSQL a heap tuple and index entries per span, and
-- text trace ids several times what bigint keys cost the GIN index: at full
-- request rate either was most of what tracing cost.
-- No foreign key to tenants: a batch must not fail because it names a
-- tenant deleted meanwhile; retention removes every row within days anyway.
CREATE TABLE trace_span_batches (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       text NOT NULL,
    service         text NOT NULL,
    trace_keys      bigint[] NOT NULL CHECK (cardinality(trace_keys) > 0),
    -- The earliest and latest span start in the batch.
    first_start     timestamptz NOT NULL,
    last_start      timestamptz NOT NULL CHECK (last_start >= first_start),
    span_count      integer NOT NULL CHECK (span_count > 0),
    -- Batches are hundreds of kilobytes: lz4 compresses them several times
    -- faster than the default pglz, for little less gain.
    spans           bytea COMPRESSION lz4 NOT NULL
);
CREATE INDEX trace_span_batches_trace_keys_idx ON trace_span_batches USING gin (trace_keys);
-- Retention deletes by age; rows arrive in time order, so BRIN serves.
CREATE INDEX trace_span_batches_last_start_idx ON trace_span_batches USING brin (last_start);
