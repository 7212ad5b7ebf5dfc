-- The auth-service keeps authenticated clients in memory (the token
-- endpoint's hot path). Any change to an app or its secrets, by any writer
-- (another replica, argusctl, a cascade from a deleted tenant), tells every
-- listening replica which client to forget, when the change commits.
CREATE FUNCTION argus_client_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('argus_client_changed', OLD.client_id);
    ELSE
        PERFORM pg_notify('argus_client_changed', NEW.client_id);
        IF TG_OP = 'UPDATE' AND OLD.client_id <> NEW.client_id THEN
            PERFORM pg_notify('argus_client_changed', OLD.client_id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER apps_changed AFTER INSERT OR UPDATE OR DELETE ON apps
    FOR EACH ROW EXECUTE FUNCTION argus_client_changed();
CREATE TRIGGER client_secrets_changed AFTER INSERT OR UPDATE OR DELETE ON client_secrets
    FOR EACH ROW EXECUTE FUNCTION argus_client_changed();
