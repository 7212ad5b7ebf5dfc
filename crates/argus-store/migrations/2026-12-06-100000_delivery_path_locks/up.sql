-- The rest of the delivery path's per-event work that protects nothing the
-- store does not already guarantee (issue 26, after
-- 2026-12-06-010000_delivery_path_constraints):
--
-- * Foreign keys from webhook_deliveries to webhooks and events, and from
--   delivery_attempts to webhook_deliveries. Each insert checked them by
--   locking the parent row FOR KEY SHARE: three locks and their WAL per
--   delivery, and with one busy webhook every record locked that one row,
--   so concurrent records made a new multixact each. A delivery is written
--   only by the store's record statement, for a webhook and an event it has
--   just read (and it joins the webhook, so a webhook deleted before the
--   statement began gets none); an attempt only with its delivery, in the
--   same statement, or where the delivery exists. Events are never deleted.
--   Deleting a webhook now deletes its deliveries and their attempts in the
--   same transaction (Store::delete_webhook), which the cascade did.
-- * The outbox keeps only unsent rows: the relay deletes a row once the
--   broker has confirmed it, in the transaction that claimed it, instead of
--   rewriting it with `sent_at` (a new row version with its payload and two
--   index entries, as `sent_at` is in an index predicate) and deleting it a
--   day later. So `sent_at` and the partial index go, and so does the unique
--   index on `message_id`: it refused a second enqueue only while the first
--   row was kept, and every consumer deduplicates (deliveries by event and
--   webhook, attempts by number, jobs by state), so it cost an index entry
--   per message for a guarantee no writer relied on.
--   A relay of the previous release claims by `sent_at` and fails until its
--   pod is replaced; the new relays publish meanwhile.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_webhook_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_id_fkey;
ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_delivery_id_fkey;

DELETE FROM outbox WHERE sent_at IS NOT NULL;
DROP INDEX outbox_unsent;
ALTER TABLE outbox DROP COLUMN sent_at;
ALTER TABLE outbox DROP CONSTRAINT outbox_message_id_key;
