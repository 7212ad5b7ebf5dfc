-- Evidence provenance (issue 21): items attached to an incident or a case
-- (the content stays with the integrator: its name, media type, size and
-- SHA-256 are kept) and the transcript of every operation on each, an
-- RFC 9162 Merkle log whose leaves are the entries' bytes.
CREATE TABLE evidence_items (
    id text PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    incident_id text REFERENCES incidents (id) ON DELETE SET NULL,
    case_id text REFERENCES cases (id) ON DELETE SET NULL,
    name text NOT NULL,
    media_type text NOT NULL,
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    -- Lowercase hex SHA-256 of the content.
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- The subject of the token that created it (a user's or an app's id).
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    -- Set by the SEAL entry: from then on only VIEW is recorded.
    sealed_at timestamptz,
    -- The transcript's size and root after the last entry (its tree head).
    transcript_size bigint NOT NULL DEFAULT 0,
    tree_root bytea
);
CREATE INDEX evidence_items_tenant_id_idx ON evidence_items (tenant_id, id);

-- The keys that sign the transcripts' tree heads: HMAC-SHA256, one current
-- per tenant (retired ones kept, so old heads stay verifiable), sealed with
-- a key derived from ARGUS_SECRET_PEPPER and bound to the key's id.
CREATE TABLE provenance_keys (
    id text PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    algorithm text NOT NULL,
    sealed_key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz
);
CREATE UNIQUE INDEX provenance_keys_current_idx ON provenance_keys (tenant_id) WHERE retired_at IS NULL;

-- One row an entry, in order; append-only (nothing updates or deletes a
-- row but the tenant's deletion).
CREATE TABLE evidence_entries (
    evidence_id text NOT NULL REFERENCES evidence_items (id) ON DELETE CASCADE,
    sequence bigint NOT NULL CHECK (sequence >= 1),
    tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- argus_domain::evidence::EvidenceOperation
    operation text NOT NULL,
    actor text NOT NULL,
    client_id text NOT NULL,
    recorded_at timestamptz NOT NULL,
    content_sha256 text NOT NULL,
    details text,
    custodian text,
    -- The previous entry's leaf hash; NULL for the first entry.
    previous_hash bytea,
    -- SHA-256(0x00 || the entry's bytes), and the tree's root once it is in.
    leaf_hash bytea NOT NULL,
    tree_root bytea NOT NULL,
    -- The tree head after this entry: size `sequence`, root `tree_root`,
    -- time `recorded_at`, signed with this key.
    key_id text NOT NULL REFERENCES provenance_keys (id),
    signature bytea NOT NULL,
    PRIMARY KEY (evidence_id, sequence)
);
