DROP TRIGGER webhooks_updated ON webhooks;
DROP TRIGGER webhooks_deleted ON webhooks;
DROP TRIGGER webhooks_inserted ON webhooks;
DROP FUNCTION argus_webhooks_changed();
ALTER TABLE tenants DROP COLUMN webhooks_version;
