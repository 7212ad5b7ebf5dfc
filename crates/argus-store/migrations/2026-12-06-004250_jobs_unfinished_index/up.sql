-- The worker samples, every few seconds, how many jobs are queued and
-- running by kind, the oldest queued one and the running ones whose lease
-- ran out (its metrics). Finished jobs stay in the table, so without this
-- index each sample would read all of them.
CREATE INDEX jobs_unfinished_idx ON jobs (status, kind, created_at) WHERE status IN ('queued', 'running');
