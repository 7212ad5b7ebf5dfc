DROP INDEX revoked_access_tokens_sandbox_idx;
ALTER TABLE revoked_access_tokens DROP COLUMN environment;
