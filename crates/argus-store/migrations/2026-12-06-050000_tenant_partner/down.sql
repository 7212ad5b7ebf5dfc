ALTER TABLE tenants DROP COLUMN partner;
