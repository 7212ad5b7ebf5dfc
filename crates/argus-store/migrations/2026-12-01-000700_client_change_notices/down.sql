DROP TRIGGER client_secrets_changed ON client_secrets;
DROP TRIGGER apps_changed ON apps;
DROP FUNCTION argus_client_changed();
