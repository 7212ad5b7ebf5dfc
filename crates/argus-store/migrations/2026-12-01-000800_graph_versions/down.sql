DROP TRIGGER relationships_deleted ON relationships;
DROP TRIGGER relationships_updated ON relationships;
DROP TRIGGER relationships_inserted ON relationships;
DROP TRIGGER entities_deleted ON entities;
DROP TRIGGER entities_updated ON entities;
DROP TRIGGER entities_inserted ON entities;
DROP FUNCTION argus_graph_updated();
DROP FUNCTION argus_graph_changed();
DROP TABLE graph_versions;
