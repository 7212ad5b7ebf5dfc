-- The sandbox's mock connectors (issue 23): every request its delivery
-- worker would have sent (webhook deliveries, job callbacks), signed as
-- live signs it, kept here instead of going to the network, with the
-- status the connector answered. Read back with GET /v1/sandbox/outbox.
CREATE TABLE sandbox_outbox (
    id         text PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    connector  text NOT NULL CHECK (connector IN ('webhook', 'job_callback')),
    -- The `webhook-id` header: the same on every attempt of one message.
    message_id text NOT NULL,
    url        text NOT NULL,
    headers    jsonb NOT NULL,
    body       text NOT NULL,
    status     integer NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sandbox_outbox_by_tenant ON sandbox_outbox (tenant_id, id);
CREATE INDEX sandbox_outbox_by_message ON sandbox_outbox (tenant_id, message_id, url);
