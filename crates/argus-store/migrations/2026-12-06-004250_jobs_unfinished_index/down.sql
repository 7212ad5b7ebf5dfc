DROP INDEX jobs_unfinished_idx;
