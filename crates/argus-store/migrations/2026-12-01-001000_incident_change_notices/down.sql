DROP TRIGGER incidents_deleted ON incidents;
DROP TRIGGER incidents_updated ON incidents;
DROP FUNCTION argus_incidents_changed();
