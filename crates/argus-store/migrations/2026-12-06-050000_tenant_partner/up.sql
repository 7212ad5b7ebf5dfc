-- `argusctl tenant entitle --tenant T --partner`: an approved partner's
-- tenant may fetch the partner contract files
-- (/partners/contract/v2026.4/external-openapi.json and external.graphql).
ALTER TABLE tenants ADD COLUMN partner boolean NOT NULL DEFAULT false;
