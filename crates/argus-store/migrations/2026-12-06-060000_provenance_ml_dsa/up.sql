-- Evidence provenance, continued (issue 21): ML-DSA-65 tree heads as a
-- tenant's opt-in, and the transcript tree's frontier on the item.
--
-- A key's algorithm is fixed when it is made; the tenant's current key's
-- algorithm is the tenant's (`argusctl tenant provenance` retires the
-- current key and makes one of the chosen algorithm current). An ML-DSA-65
-- key's public half is kept in clear beside its sealed seed: it is
-- published at /.well-known/provenance-keys/ml-dsa-65. HMAC keys have none.
ALTER TABLE provenance_keys ADD COLUMN public_key bytea;
ALTER TABLE provenance_keys ADD CONSTRAINT provenance_keys_algorithm_check
    CHECK ((algorithm = 'hmac-sha256' AND public_key IS NULL) OR (algorithm = 'ml-dsa-65' AND public_key IS NOT NULL));

-- The algorithm each tree head was signed with (its key's).
ALTER TABLE evidence_entries ADD COLUMN algorithm text NOT NULL DEFAULT 'hmac-sha256';
ALTER TABLE evidence_entries ALTER COLUMN algorithm DROP DEFAULT;

-- The roots of the tree's perfect subtrees, largest first, 32 bytes each
-- (one per set bit of transcript_size): an append hashes O(log n) nodes
-- instead of reading every leaf. Empty for items from before this column;
-- their next append rebuilds it from the leaves.
ALTER TABLE evidence_items ADD COLUMN tree_frontier bytea NOT NULL DEFAULT '';
