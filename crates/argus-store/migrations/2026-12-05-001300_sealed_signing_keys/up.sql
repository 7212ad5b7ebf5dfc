-- Private signing keys sealed at rest (AES-256-GCM under ARGUS_KEY_SEALING_KEYS,
-- bound to the kid). SQL cannot seal with the application's key, so existing
-- keys stay in private_key_pem until the first `argusctl migrate` or
-- auth-service start after this migration seals them (ensure_signing_keys):
-- from then on private_key_pem is NULL on every row.
ALTER TABLE signing_keys
    ADD COLUMN private_key_sealed BYTEA,
    ADD COLUMN sealing_key_id TEXT,
    ALTER COLUMN private_key_pem DROP NOT NULL,
    -- Exactly one form of the private key; a sealed one names its sealing key.
    ADD CONSTRAINT signing_keys_private_key_check CHECK (
        (private_key_pem IS NULL) <> (private_key_sealed IS NULL)
        AND (private_key_sealed IS NULL) = (sealing_key_id IS NULL)
    );
