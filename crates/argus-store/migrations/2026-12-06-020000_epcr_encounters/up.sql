-- ePCR encounters (issue 20): one patient's ambulance care record each. The
-- record is one jsonb document (argus_domain::epcr::Encounter, checked on
-- the way in and read back whole); the columns beside it are what queries
-- select on.
CREATE TABLE encounters (
    id text PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    incident_id text REFERENCES incidents (id) ON DELETE SET NULL,
    record jsonb NOT NULL,
    -- The record's timeline.call_received: what ACQI ranges select on.
    call_received_at timestamptz NOT NULL,
    -- The subject of the token that created it (a user's or an app's id).
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX encounters_tenant_id_idx ON encounters (tenant_id, id);
CREATE INDEX encounters_tenant_call_idx ON encounters (tenant_id, call_received_at, id);

-- Every read of a record (health data): who, when, which record, through
-- which route. Appended only; kept with the tenant.
CREATE TABLE encounter_access_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    encounter_id text NOT NULL,
    -- The token's subject, and the app it was issued to.
    actor text NOT NULL,
    client_id text NOT NULL,
    route text NOT NULL,
    trace_id text,
    read_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX encounter_access_log_record_idx ON encounter_access_log (tenant_id, encounter_id, read_at);
