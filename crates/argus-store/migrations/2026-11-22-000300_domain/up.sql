-- The incident and case domain, the entity graph, and the curated GraphQL
-- operation bundles that gate access to it. Every domain row carries its
-- tenant; ids are prefixed ULIDs, so ordering by id orders by creation.

CREATE TABLE incidents (
    id           text PRIMARY KEY CHECK (id LIKE 'inc\_%'),
    tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    title        text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    description  text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    severity     text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    location     text,
    -- who reported it: the token's subject (a user or an app)
    reporter     text NOT NULL,
    occurred_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz
);
CREATE INDEX incidents_tenant_idx ON incidents (tenant_id, id);
CREATE INDEX incidents_tenant_status_idx ON incidents (tenant_id, status, id);

CREATE TABLE cases (
    id           text PRIMARY KEY CHECK (id LIKE 'case\_%'),
    tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    title        text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    description  text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'closed')),
    assignees    text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz
);
CREATE INDEX cases_tenant_idx ON cases (tenant_id, id);

-- The tenant is part of both foreign keys, so a link can never cross
-- tenants whatever the application does.
ALTER TABLE incidents ADD CONSTRAINT incidents_tenant_id_key UNIQUE (tenant_id, id);
ALTER TABLE cases ADD CONSTRAINT cases_tenant_id_key UNIQUE (tenant_id, id);

CREATE TABLE case_incidents (
    tenant_id    text NOT NULL,
    case_id      text NOT NULL,
    incident_id  text NOT NULL,
    linked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, incident_id),
    FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, incident_id) REFERENCES incidents (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX case_incidents_incident_idx ON case_incidents (incident_id);

CREATE TABLE entities (
    id           text PRIMARY KEY CHECK (id LIKE 'ent\_%'),
    tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('person', 'organisation', 'vehicle', 'location')),
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 500),
    attributes   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE INDEX entities_tenant_kind_idx ON entities (tenant_id, kind, id);

-- Directed edges of the entity graph ("owns", "employs", "seen_at", ...).
CREATE TABLE relationships (
    id           text PRIMARY KEY CHECK (id LIKE 'rel\_%'),
    tenant_id    text NOT NULL,
    source_id    text NOT NULL,
    target_id    text NOT NULL,
    kind         text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,63}$'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_id, target_id, kind),
    FOREIGN KEY (tenant_id, source_id) REFERENCES entities (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, target_id) REFERENCES entities (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX relationships_source_idx ON relationships (tenant_id, source_id);
CREATE INDEX relationships_target_idx ON relationships (tenant_id, target_id);

-- Curated operation bundles: a bundle is a named set of GraphQL operation
-- documents; a document is identified by the SHA-256 of its normalised text.
CREATE TABLE operation_bundles (
    name         text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,127}$'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bundle_documents (
    bundle_name     text NOT NULL REFERENCES operation_bundles (name) ON DELETE CASCADE,
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    operation_name  text NOT NULL,
    document        text NOT NULL,
    PRIMARY KEY (bundle_name, sha256),
    UNIQUE (bundle_name, operation_name)
);
CREATE INDEX bundle_documents_sha_idx ON bundle_documents (sha256);

CREATE TABLE bundle_grants (
    tenant_id    text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id    text NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    bundle_name  text NOT NULL REFERENCES operation_bundles (name) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, client_id, bundle_name)
);
