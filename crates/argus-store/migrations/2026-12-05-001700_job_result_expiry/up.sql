-- A succeeded job's result is kept until `result_expires_at` (the worker's
-- ARGUS_JOB_RESULT_RETENTION_DAYS after the job finished), then its chunks
-- are deleted and `result_bytes` cleared, which frees the tenant's quota.
ALTER TABLE jobs ADD COLUMN result_expires_at timestamptz;
UPDATE jobs SET result_expires_at = finished_at + interval '7 days' WHERE result_bytes IS NOT NULL;
CREATE INDEX jobs_result_expiry_idx ON jobs (result_expires_at) WHERE result_bytes IS NOT NULL;
