-- The delivery path writes an event row and a delivery row per delivery;
-- what each write costs PostgreSQL is what bounds events per second
-- (issue 26). Two constraints and an index cost more there than they
-- protect:
--
-- * The foreign keys from events and webhook_deliveries to tenants: every
--   insert locks the tenant's row FOR KEY SHARE, and with many inserts of
--   one tenant in flight each lock writes a new multixact (a third of a
--   kilobyte of WAL an event, and a shared lock table every insert of the
--   tenant contends on). Both rows are written only by the store, with a
--   tenant id it has authenticated, and a delivery's tenant is its
--   webhook's, which keeps its own key; tenants are never deleted, so the
--   cascade never ran.
-- * events_tenant_idx: nothing reads events by tenant (they are read by id).
ALTER TABLE events DROP CONSTRAINT events_tenant_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_tenant_id_fkey;
DROP INDEX events_tenant_idx;
