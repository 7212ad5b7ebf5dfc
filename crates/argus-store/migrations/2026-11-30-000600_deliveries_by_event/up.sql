-- The fan-out looks up an event's deliveries by event, and deleting an event
-- cascades to its deliveries: both need the event first in the index. The
-- unique key is the same pair of columns, led by the event instead.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_webhook_id_event_id_key;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_id_webhook_id_key UNIQUE (event_id, webhook_id);
