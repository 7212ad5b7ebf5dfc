DROP TABLE sandbox_outbox;
