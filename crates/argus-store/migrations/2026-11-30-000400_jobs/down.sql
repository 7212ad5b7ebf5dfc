DROP TABLE idempotency_keys;
DROP TABLE job_result_chunks;
DROP TABLE jobs;
ALTER TABLE incidents DROP COLUMN external_id;
ALTER TABLE relationships DROP COLUMN external_id;
ALTER TABLE entities DROP COLUMN external_id;
