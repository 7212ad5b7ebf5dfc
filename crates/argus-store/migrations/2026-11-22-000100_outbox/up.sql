-- Transactional outbox: a writer inserts the message in the same
-- transaction as the change it announces; the relay publishes it to
-- RabbitMQ with publisher confirms and only then sets `sent_at`. So a
-- committed change always gets its message out (at least once), and a
-- rolled-back one never does.

CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    tenant_id    text NOT NULL,
    -- AMQP message_id; unique so a retried write cannot enqueue twice
    message_id   text NOT NULL UNIQUE CHECK (octet_length(message_id) BETWEEN 1 AND 255),
    -- logical exchange, mapped to `{prefix}.events` / `{prefix}.work` by the
    -- relay, so the broker prefix is deployment config and not data
    exchange     text NOT NULL CHECK (exchange IN ('events', 'work')),
    -- AMQP short strings: longer values could never be published and would
    -- sit at the head of the queue for ever
    routing_key  text NOT NULL CHECK (octet_length(routing_key) <= 255),
    kind         text NOT NULL CHECK (octet_length(kind) <= 255),
    payload      bytea NOT NULL,
    -- extra string headers (traceparent, tracestate)
    headers      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(headers) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);

-- What the relay scans: only unsent rows, in insertion order.
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Wakes relays that LISTEN argus_outbox. Notifications are delivered at
-- commit (and dropped on rollback) and coalesced within a transaction, so
-- one per statement is enough.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('argus_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify
    AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
