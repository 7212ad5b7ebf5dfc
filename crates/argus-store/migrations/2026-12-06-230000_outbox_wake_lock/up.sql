-- Writers notify the relays only while one of them sleeps (issue 26).
--
-- A NOTIFY serialises every notifying transaction of the database: it
-- takes a lock on the database that it holds through its commit, WAL flush
-- included, so commits that write outbox rows could not share a flush, and
-- each one also signalled every listening session. An idle relay now holds
-- the advisory lock 1634887541 (argus_store::outbox::WAKE_LOCK) on its
-- LISTEN session; a writer that finds it held (its shared try fails)
-- notifies, and a writer that gets the shared lock knows a relay is busy
-- and keeps the lock to its commit instead. A busy relay polls; before it
-- sleeps it takes the lock, which waits out every writer that did not
-- notify, and claims once more. A relay of the previous release takes no
-- lock: until its pod is replaced, writers do not notify it and it relays
-- at its one-second poll.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock_shared(1634887541) THEN
        PERFORM pg_notify('argus_outbox', '');
    END IF;
    RETURN NULL;
END
$$;
