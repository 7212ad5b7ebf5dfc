-- `argusctl user disable`: a disabled user cannot sign in; disabling ends
-- their sessions and revokes their grants in the same transaction.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
