-- api-service keeps incidents it has read in memory. Any update or delete,
-- by any writer (another replica, an import, a cascade from a deleted
-- tenant), tells every listening replica what to forget, when the change
-- commits: `tenant_id/id` per row, or `tenant_id/*` per tenant when one
-- statement changes many rows (an import's upsert), so a bulk change costs
-- a notice per tenant rather than per row. Inserts need no notice: a row
-- that did not exist was never kept.
CREATE FUNCTION argus_incidents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF (SELECT count(*) FROM changed_rows) > 100 THEN
        FOR r IN SELECT DISTINCT tenant_id FROM changed_rows LOOP
            PERFORM pg_notify('argus_incident_changed', r.tenant_id || '/*');
        END LOOP;
    ELSE
        FOR r IN SELECT tenant_id, id FROM changed_rows LOOP
            PERFORM pg_notify('argus_incident_changed', r.tenant_id || '/' || r.id);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

-- Ids and tenants never change, so the old rows of an update name the same
-- keys as the new.
CREATE TRIGGER incidents_updated AFTER UPDATE ON incidents
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION argus_incidents_changed();
CREATE TRIGGER incidents_deleted AFTER DELETE ON incidents
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION argus_incidents_changed();
