DROP TABLE sandbox_scenario_tenants;
