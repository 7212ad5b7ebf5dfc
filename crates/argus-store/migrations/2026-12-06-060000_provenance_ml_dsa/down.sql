ALTER TABLE evidence_items DROP COLUMN tree_frontier;
ALTER TABLE evidence_entries DROP COLUMN algorithm;
ALTER TABLE provenance_keys DROP CONSTRAINT provenance_keys_algorithm_check;
ALTER TABLE provenance_keys DROP COLUMN public_key;
