-- A tenant's entity graph gets a new version with every committed write to
-- its entities or relationships, whoever writes them, so graph.compute can
-- keep built graphs in memory and know when one is out of date. Statement
-- triggers: an import of a million rows bumps each tenant once per
-- statement, not once per row. No foreign key to tenants: the triggers also
-- fire for the rows a tenant's deletion cascades to.
CREATE TABLE graph_versions (
    tenant_id  text PRIMARY KEY,
    version    bigint NOT NULL
);

CREATE FUNCTION argus_graph_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- In tenant order, so concurrent writers lock the rows in one order.
    INSERT INTO graph_versions (tenant_id, version)
    SELECT DISTINCT tenant_id, 1 FROM changed_rows ORDER BY tenant_id
    ON CONFLICT (tenant_id) DO UPDATE SET version = graph_versions.version + 1;
    RETURN NULL;
END
$$;

CREATE FUNCTION argus_graph_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO graph_versions (tenant_id, version)
    SELECT tenant_id, 1 FROM (SELECT tenant_id FROM old_rows UNION SELECT tenant_id FROM new_rows) t
    ORDER BY tenant_id
    ON CONFLICT (tenant_id) DO UPDATE SET version = graph_versions.version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER entities_inserted AFTER INSERT ON entities
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION argus_graph_changed();
CREATE TRIGGER entities_updated AFTER UPDATE ON entities
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION argus_graph_updated();
CREATE TRIGGER entities_deleted AFTER DELETE ON entities
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION argus_graph_changed();
CREATE TRIGGER relationships_inserted AFTER INSERT ON relationships
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION argus_graph_changed();
CREATE TRIGGER relationships_updated AFTER UPDATE ON relationships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION argus_graph_updated();
CREATE TRIGGER relationships_deleted AFTER DELETE ON relationships
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION argus_graph_changed();
