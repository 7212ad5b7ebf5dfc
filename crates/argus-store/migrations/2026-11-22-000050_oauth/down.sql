DROP TABLE sign_in_failures;
DROP TABLE revoked_access_tokens;
DROP TABLE issued_access_tokens;
DROP TABLE refresh_tokens;
DROP TABLE authorization_codes;
DROP TABLE grant_families;
DROP TABLE sessions;
