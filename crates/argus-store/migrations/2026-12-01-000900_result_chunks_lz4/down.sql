ALTER TABLE job_result_chunks ALTER COLUMN data SET COMPRESSION pglz;
