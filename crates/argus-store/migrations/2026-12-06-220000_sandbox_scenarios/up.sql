-- The sandbox's scenarios (issue 23): each (app tenant, scenario) pair has
-- a tenant of its own, seeded from the scenario's file on first use, with
-- ids derived from both names and the scenario's fixed clock.
CREATE TABLE sandbox_scenario_tenants (
    tenant_id     text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    app_tenant_id text NOT NULL,
    scenario      text NOT NULL,
    seeded_at     timestamptz NOT NULL DEFAULT now(),
    -- What the scenario's mock webhook receiver answers, attempt after
    -- attempt (the last one thereafter); empty: 200 every time.
    webhook_answers integer[] NOT NULL DEFAULT '{}',
    UNIQUE (app_tenant_id, scenario)
);
