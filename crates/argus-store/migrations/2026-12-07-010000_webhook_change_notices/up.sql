-- The delivery worker keeps each tenant's enabled webhooks in memory, so
-- the fan-out of a new event reads nothing from the database. Two things
-- keep that list true:
-- * `tenants.webhooks_version` counts the changes of the tenant's webhooks,
--   and every event's bus message carries the count its writer saw. A
--   worker whose list is older than an event's count reads it again, so an
--   event written after a change is never sent by the list before it.
-- * A notice on `argus_webhook_changed` with the tenant's id makes every
--   worker forget the list when the change commits, so a deleted or
--   disabled webhook stops getting even the events written before.
-- What counts as a change is what a delivery needs: a webhook added or
-- deleted, its URL, events, state or secrets. The health columns the
-- delivery record keeps up to date (`last_success_at`, `failing_since`)
-- do not, or a busy webhook's would count every few seconds; `enabled`
-- does, when a record disables a webhook. A transaction's notices with one
-- payload are delivered once.
ALTER TABLE tenants ADD COLUMN webhooks_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION argus_webhooks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tenant text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        tenant := OLD.tenant_id;
    ELSE
        tenant := NEW.tenant_id;
    END IF;
    UPDATE tenants SET webhooks_version = webhooks_version + 1 WHERE id = tenant;
    PERFORM pg_notify('argus_webhook_changed', tenant);
    RETURN NULL;
END
$$;

CREATE TRIGGER webhooks_inserted AFTER INSERT ON webhooks
    FOR EACH ROW EXECUTE FUNCTION argus_webhooks_changed();
CREATE TRIGGER webhooks_deleted AFTER DELETE ON webhooks
    FOR EACH ROW EXECUTE FUNCTION argus_webhooks_changed();
-- Tenants and ids never change.
CREATE TRIGGER webhooks_updated AFTER UPDATE ON webhooks
    FOR EACH ROW
    WHEN ((OLD.url, OLD.events, OLD.enabled, OLD.disabled_reason, OLD.secret_sealed,
           OLD.previous_secret_sealed, OLD.previous_secret_expires_at)
          IS DISTINCT FROM
          (NEW.url, NEW.events, NEW.enabled, NEW.disabled_reason, NEW.secret_sealed,
           NEW.previous_secret_sealed, NEW.previous_secret_expires_at))
    EXECUTE FUNCTION argus_webhooks_changed();
