-- Medical devices (issue 20): enrolled per tenant, one serial number once
-- per tenant; and the Personal Health Device observations they submit.
CREATE TABLE devices (
    id text PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    serial_number text NOT NULL,
    manufacturer text NOT NULL,
    model text NOT NULL,
    -- The IEEE 11073-10101 device specialization code (argus_domain::epcr::devices::DeviceType).
    device_type text NOT NULL,
    -- The subject of the token that enrolled it (a user's or an app's id).
    enrolled_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT devices_tenant_serial_key UNIQUE (tenant_id, serial_number)
);
CREATE INDEX devices_tenant_id_idx ON devices (tenant_id, id);

CREATE TABLE device_observations (
    id text PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    encounter_id text REFERENCES encounters (id) ON DELETE SET NULL,
    -- The MDC code (argus_domain::epcr::devices::MdcCode) and the UCUM
    -- unit of the value, or of every component of a compound.
    code text NOT NULL,
    unit text NOT NULL,
    -- {"quantity": n} or {"components": [{"code", "value"}...]}.
    value jsonb NOT NULL,
    effective_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_observations_device_idx ON device_observations (tenant_id, device_id, id);
CREATE INDEX device_observations_encounter_idx ON device_observations (tenant_id, encounter_id, effective_at)
    WHERE encounter_id IS NOT NULL;
