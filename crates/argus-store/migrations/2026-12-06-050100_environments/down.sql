DELETE FROM signing_keys WHERE key_set = 'sandbox';
DROP INDEX signing_keys_one_current;
DROP INDEX signing_keys_one_next;
ALTER TABLE signing_keys DROP COLUMN key_set;
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';
DROP TABLE deployment_environment;
