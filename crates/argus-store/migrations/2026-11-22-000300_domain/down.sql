DROP TABLE bundle_grants;
DROP TABLE bundle_documents;
DROP TABLE operation_bundles;
DROP TABLE relationships;
DROP TABLE entities;
DROP TABLE case_incidents;
DROP TABLE cases;
DROP TABLE incidents;
