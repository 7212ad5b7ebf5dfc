DROP TABLE evidence_entries;
DROP TABLE evidence_items;
DROP TABLE provenance_keys;
