-- Events, webhook subscriptions, deliveries and their attempts.

-- Every event as its receivers get it: the JSON envelope
-- {"id","type","created_at","tenant_id","data"}, kept so every retry sends
-- the same body.
CREATE TABLE events (
    id          text PRIMARY KEY CHECK (id LIKE 'evt\_%'),
    tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    type        text NOT NULL,
    envelope    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_tenant_idx ON events (tenant_id, id);

-- The signing secret is sealed (AES-256-GCM under a key derived from the
-- server pepper): the worker needs the key itself to sign. During a
-- rotation the previous secret also signs until previous_secret_expires_at.
CREATE TABLE webhooks (
    id                          text PRIMARY KEY CHECK (id LIKE 'wh\_%'),
    tenant_id                   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                         text NOT NULL,
    events                      text[] NOT NULL CHECK (cardinality(events) > 0),
    description                 text NOT NULL DEFAULT '',
    enabled                     boolean NOT NULL DEFAULT true,
    disabled_reason             text,
    secret_sealed               bytea NOT NULL,
    previous_secret_sealed      bytea,
    previous_secret_expires_at  timestamptz,
    last_success_at             timestamptz,
    failing_since               timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_tenant_idx ON webhooks (tenant_id, id);
CREATE INDEX webhooks_events_idx ON webhooks USING gin (events);

-- One delivery per webhook and event (the fan-out is idempotent on it).
CREATE TABLE webhook_deliveries (
    id               text PRIMARY KEY CHECK (id LIKE 'dlv\_%'),
    tenant_id        text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    webhook_id       text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    event_type       text NOT NULL,
    status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'succeeded', 'retrying', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    attempted_at     timestamptz,
    response_status  integer,
    duration_ms      integer,
    next_attempt_at  timestamptz,
    error            text,
    response_body    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (webhook_id, id);

-- Every attempt, recorded before the broker message is acknowledged.
CREATE TABLE delivery_attempts (
    delivery_id      text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt          integer NOT NULL,
    attempted_at     timestamptz NOT NULL,
    response_status  integer,
    duration_ms      integer NOT NULL,
    error            text,
    response_body    text,
    PRIMARY KEY (delivery_id, attempt)
);
