DROP INDEX revoked_access_tokens_expiry_idx;
DROP TRIGGER revoked_access_tokens_notice ON revoked_access_tokens;
DROP FUNCTION argus_token_revoked();
