-- The tenant-scoped span store behind GET /v1/observability/traces/{id}.
-- Every service writes the finished spans of a tenant's work here, one row
-- per tenant per flush: `spans` is an OTLP ResourceSpans message (protobuf)
-- holding up to a thousand spans, and `trace_ids` lists the traces they
-- belong to, GIN-indexed so a lookup finds the few rows of one trace. A row
-- per span would cost PostgreSQL a heap tuple and index entries per span,
-- which at full request rate is most of what tracing costs.
-- No foreign key to tenants: a batch must not fail because it names a
-- tenant deleted meanwhile; retention removes every row within days anyway.
CREATE TABLE trace_span_batches (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       text NOT NULL,
    service         text NOT NULL,
    trace_ids       text[] NOT NULL CHECK (cardinality(trace_ids) > 0),
    -- The earliest and latest span start in the batch.
    first_start     timestamptz NOT NULL,
    last_start      timestamptz NOT NULL CHECK (last_start >= first_start),
    span_count      integer NOT NULL CHECK (span_count > 0),
    spans           bytea NOT NULL
);
CREATE INDEX trace_span_batches_trace_ids_idx ON trace_span_batches USING gin (trace_ids);
-- Retention deletes by age; rows arrive in time order, so BRIN serves.
CREATE INDEX trace_span_batches_last_start_idx ON trace_span_batches USING brin (last_start);
