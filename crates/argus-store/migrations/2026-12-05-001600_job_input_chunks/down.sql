ALTER TABLE jobs ADD COLUMN payload bytea;
UPDATE jobs SET payload = c.data
FROM (SELECT job_id, string_agg(data, ''::bytea ORDER BY seq) AS data FROM job_input_chunks GROUP BY job_id) c
WHERE c.job_id = jobs.id;
ALTER TABLE jobs DROP COLUMN checkpoint;
DROP TABLE job_input_chunks;
