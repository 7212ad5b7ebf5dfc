-- Most spans are written within seconds of their trace's start, and the ids
-- of traces Argus starts begin with that second (argus_store::traces). A
-- batch now lists such traces in `recent_trace_keys`, unindexed, and the
-- lookup finds those rows by when they were written, a window the trace id
-- gives; only the other traces (callers' ids, spans written later) take a
-- GIN entry in `trace_keys`. The GIN entries were over half of what storing
-- a span cost PostgreSQL, and most of its WAL.
-- Rows written before keep every trace in `trace_keys`, where the lookup
-- still finds them.
ALTER TABLE trace_span_batches
    ADD COLUMN recent_trace_keys bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN written_at timestamptz NOT NULL DEFAULT now(),
    DROP CONSTRAINT trace_span_batches_trace_keys_check,
    ADD CONSTRAINT trace_span_batches_trace_keys_check
        CHECK (cardinality(trace_keys) + cardinality(recent_trace_keys) > 0);
-- One entry per batch, per tenant: the rows of the window, then filtered on
-- their keys.
CREATE INDEX trace_span_batches_written_at_idx ON trace_span_batches (tenant_id, written_at);
