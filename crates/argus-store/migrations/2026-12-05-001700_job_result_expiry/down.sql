DROP INDEX jobs_result_expiry_idx;
ALTER TABLE jobs DROP COLUMN result_expires_at;
