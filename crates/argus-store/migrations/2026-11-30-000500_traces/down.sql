DROP TABLE trace_span_batches;
