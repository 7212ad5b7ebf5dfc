-- The tenant-scoped span store behind GET /v1/observability/traces/{id}.
-- Every service writes the finished spans of a tenant's work here, batched.
-- No foreign key to tenants: a batch must not fail because one span names a
-- tenant deleted meanwhile; retention removes every row within days anyway.
CREATE TABLE trace_spans (
    tenant_id       text NOT NULL,
    trace_id        text NOT NULL CHECK (trace_id ~ '^[0-9a-f]{32}$'),
    span_id         text NOT NULL CHECK (span_id ~ '^[0-9a-f]{16}$'),
    parent_span_id  text CHECK (parent_span_id ~ '^[0-9a-f]{16}$'),
    service         text NOT NULL,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('internal', 'server', 'client', 'producer', 'consumer')),
    start_time      timestamptz NOT NULL,
    duration_ms     double precision NOT NULL,
    status          text NOT NULL CHECK (status IN ('unset', 'ok', 'error')),
    attributes      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    PRIMARY KEY (tenant_id, trace_id, span_id)
);
-- Retention deletes by age.
CREATE INDEX trace_spans_start_idx ON trace_spans (start_time);
