ALTER TABLE sandbox_scenario_tenants DROP COLUMN clock, DROP COLUMN write_seq;
