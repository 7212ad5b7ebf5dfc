-- A sealed key cannot be unsealed in SQL: going back needs every key in
-- plaintext again, which only the application could do. Refuse instead of
-- losing the keys.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM signing_keys WHERE private_key_sealed IS NOT NULL) THEN
        RAISE EXCEPTION 'signing keys are sealed; reverting would lose them';
    END IF;
END $$;
ALTER TABLE signing_keys
    DROP CONSTRAINT signing_keys_private_key_check,
    ALTER COLUMN private_key_pem SET NOT NULL,
    DROP COLUMN sealing_key_id,
    DROP COLUMN private_key_sealed;
