DROP TABLE signing_keys;
DROP TABLE client_secrets;
DROP TABLE apps;
DROP TABLE scopes;
DROP TABLE users;
DROP TABLE tenants;
