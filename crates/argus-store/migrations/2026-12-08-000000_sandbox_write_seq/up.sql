-- Writes under a sandbox scenario (issue 23): each scenario tenant counts
-- its writes, and a write's ids and times follow from its number and the
-- scenario's clock (the tenant's creation time), so the same writes after
-- a reset give the same rows.
ALTER TABLE sandbox_scenario_tenants
    ADD COLUMN write_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN clock timestamptz;
UPDATE sandbox_scenario_tenants s SET clock = t.created_at FROM tenants t WHERE t.id = s.tenant_id;
ALTER TABLE sandbox_scenario_tenants ALTER COLUMN clock SET NOT NULL;
