UPDATE trace_span_batches SET trace_keys = trace_keys || recent_trace_keys WHERE recent_trace_keys <> '{}';
DROP INDEX trace_span_batches_written_at_idx;
ALTER TABLE trace_span_batches
    DROP CONSTRAINT trace_span_batches_trace_keys_check,
    DROP COLUMN written_at,
    DROP COLUMN recent_trace_keys,
    ADD CONSTRAINT trace_span_batches_trace_keys_check CHECK (cardinality(trace_keys) > 0);
