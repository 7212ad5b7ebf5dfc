-- `platform:admin` is the tenant admin's power (register apps, mint service
-- tokens, rotate other apps' secrets). It is not an integration scope: apps
-- can no longer request it, and those that hold it lose it here. Admin
-- tokens come from `argusctl` only.
DELETE FROM scopes WHERE name = 'platform:admin';

UPDATE apps SET
    requested_scopes = array_remove(requested_scopes, 'platform:admin'),
    approved_scopes = array_remove(approved_scopes, 'platform:admin'),
    governance = CASE
        WHEN jsonb_typeof(governance -> 'allowed_scopes') = 'array'
            THEN jsonb_set(governance, '{allowed_scopes}', (governance -> 'allowed_scopes') - 'platform:admin')
        ELSE governance
    END,
    updated_at = now()
WHERE 'platform:admin' = ANY (requested_scopes) OR 'platform:admin' = ANY (approved_scopes);

-- Grants already made carry their scopes: a refresh or a pending code must
-- not bring the scope back.
UPDATE refresh_tokens SET scopes = array_remove(scopes, 'platform:admin') WHERE 'platform:admin' = ANY (scopes);
UPDATE authorization_codes SET scopes = array_remove(scopes, 'platform:admin') WHERE 'platform:admin' = ANY (scopes);
