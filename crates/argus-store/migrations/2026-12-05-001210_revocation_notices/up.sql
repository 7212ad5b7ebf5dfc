-- Every resource server keeps the revoked access tokens in memory. Each
-- new revocation, by any writer (the revoke endpoint, a grant family
-- revoked for replay, argusctl), tells every listening replica when it
-- commits: `<expiry as unix seconds> <jti>`.
CREATE FUNCTION argus_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('argus_token_revoked', floor(extract(epoch FROM NEW.expires_at))::bigint || ' ' || NEW.jti);
    RETURN NULL;
END
$$;

CREATE TRIGGER revoked_access_tokens_notice AFTER INSERT ON revoked_access_tokens
    FOR EACH ROW EXECUTE FUNCTION argus_token_revoked();

-- The set is loaded by expiry at every (re)connect.
CREATE INDEX revoked_access_tokens_expiry_idx ON revoked_access_tokens (expires_at);
