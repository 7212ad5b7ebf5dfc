// Written to match the migrations; diesel's CLI is not needed to build.

diesel::table! {
    tenants (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamptz,
        partner -> Bool,
        // Migration 2026-12-07-010000_webhook_change_notices.
        webhooks_version -> Int8,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        tenant_id -> Text,
        email -> Text,
        password_hash -> Text,
        created_at -> Timestamptz,
        disabled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    scopes (name) {
        name -> Text,
        description -> Text,
        published -> Bool,
    }
}

diesel::table! {
    apps (client_id) {
        client_id -> Text,
        tenant_id -> Text,
        name -> Text,
        client_type -> Text,
        grant_types -> Array<Text>,
        redirect_uris -> Array<Text>,
        requested_scopes -> Array<Text>,
        approved_scopes -> Array<Text>,
        governance -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    client_secrets (id) {
        id -> Text,
        client_id -> Text,
        tenant_id -> Text,
        secret_hash -> Binary,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        state -> Text,
        private_key_pem -> Nullable<Text>,
        created_at -> Timestamptz,
        activated_at -> Nullable<Timestamptz>,
        retired_at -> Nullable<Timestamptz>,
        publish_until -> Nullable<Timestamptz>,
        // Migration 2026-12-05-001300_sealed_signing_keys.
        private_key_sealed -> Nullable<Binary>,
        sealing_key_id -> Nullable<Text>,
        // Migration 2026-12-06-050100_environments.
        key_set -> Text,
    }
}

diesel::joinable!(users -> tenants (tenant_id));
diesel::joinable!(apps -> tenants (tenant_id));
diesel::joinable!(client_secrets -> apps (client_id));
diesel::allow_tables_to_appear_in_same_query!(tenants, users, scopes, apps, client_secrets, signing_keys);

// OAuth (migration 2026-11-22-000050_oauth).

diesel::table! {
    sessions (id_hash) {
        id_hash -> Binary,
        tenant_id -> Text,
        user_id -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    grant_families (id) {
        id -> Text,
        tenant_id -> Text,
        client_id -> Text,
        user_id -> Nullable<Text>,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Binary,
        tenant_id -> Text,
        client_id -> Text,
        user_id -> Text,
        family_id -> Text,
        redirect_uri -> Text,
        scopes -> Array<Text>,
        code_challenge -> Nullable<Text>,
        code_challenge_method -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        consumed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Binary,
        family_id -> Text,
        tenant_id -> Text,
        client_id -> Text,
        user_id -> Nullable<Text>,
        scopes -> Array<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    issued_access_tokens (jti) {
        jti -> Text,
        family_id -> Text,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Text,
        expires_at -> Timestamptz,
        environment -> Text,
    }
}

diesel::table! {
    sign_in_failures (tenant_id, email) {
        tenant_id -> Text,
        email -> Text,
        failures -> Integer,
        locked_until -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(refresh_tokens, grant_families);

// Transactional outbox (migration 2026-11-22-000100_outbox; unsent rows only
// since 2026-12-06-100000_delivery_path_locks).

diesel::table! {
    outbox (id) {
        id -> BigInt,
        tenant_id -> Text,
        message_id -> Text,
        exchange -> Text,
        routing_key -> Text,
        kind -> Text,
        payload -> Binary,
        headers -> Jsonb,
        created_at -> Timestamptz,
    }
}

// Webhooks (migration 2026-11-22-000200_webhooks).

diesel::table! {
    events (id) {
        id -> Text,
        tenant_id -> Text,
        #[sql_name = "type"]
        event_type -> Text,
        envelope -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        tenant_id -> Text,
        url -> Text,
        events -> Array<Text>,
        description -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret_sealed -> Binary,
        previous_secret_sealed -> Nullable<Binary>,
        previous_secret_expires_at -> Nullable<Timestamptz>,
        last_success_at -> Nullable<Timestamptz>,
        failing_since -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        tenant_id -> Text,
        webhook_id -> Text,
        event_id -> Text,
        event_type -> Text,
        status -> Text,
        attempts -> Integer,
        attempted_at -> Nullable<Timestamptz>,
        response_status -> Nullable<Integer>,
        duration_ms -> Nullable<Integer>,
        next_attempt_at -> Nullable<Timestamptz>,
        error -> Nullable<Text>,
        response_body -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    delivery_attempts (delivery_id, attempt) {
        delivery_id -> Text,
        attempt -> Integer,
        attempted_at -> Timestamptz,
        response_status -> Nullable<Integer>,
        duration_ms -> Integer,
        error -> Nullable<Text>,
        response_body -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(events, webhooks, webhook_deliveries, delivery_attempts);
diesel::allow_tables_to_appear_in_same_query!(tenants, webhooks);

// Domain and operation bundles (migration 2026-11-22-000300_domain).

diesel::table! {
    incidents (id) {
        id -> Text,
        tenant_id -> Text,
        title -> Text,
        description -> Text,
        status -> Text,
        severity -> Text,
        location -> Nullable<Text>,
        reporter -> Text,
        occurred_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    cases (id) {
        id -> Text,
        tenant_id -> Text,
        title -> Text,
        description -> Text,
        status -> Text,
        assignees -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    case_incidents (case_id, incident_id) {
        tenant_id -> Text,
        case_id -> Text,
        incident_id -> Text,
        linked_at -> Timestamptz,
    }
}

diesel::table! {
    entities (id) {
        id -> Text,
        tenant_id -> Text,
        external_id -> Nullable<Text>,
        kind -> Text,
        name -> Text,
        attributes -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    relationships (id) {
        id -> Text,
        tenant_id -> Text,
        source_id -> Text,
        target_id -> Text,
        kind -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    operation_bundles (name) {
        name -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    bundle_documents (bundle_name, sha256) {
        bundle_name -> Text,
        sha256 -> Text,
        operation_name -> Text,
        document -> Text,
    }
}

diesel::table! {
    bundle_grants (tenant_id, client_id, bundle_name) {
        tenant_id -> Text,
        client_id -> Text,
        bundle_name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(incidents, cases, case_incidents, entities, relationships);
diesel::allow_tables_to_appear_in_same_query!(operation_bundles, bundle_documents, bundle_grants);

// Migration 2026-11-30-000400_jobs. (The `external_id` columns it adds to
// entities, relationships and incidents are written by the bulk import's
// SQL only, so the tables above do not list them.)

diesel::table! {
    jobs (id) {
        id -> Text,
        tenant_id -> Text,
        client_id -> Text,
        kind -> Text,
        status -> Text,
        input -> Jsonb,
        progress -> Float8,
        attempts -> Int4,
        lease_expires_at -> Nullable<Timestamptz>,
        cancel_requested -> Bool,
        error -> Nullable<Jsonb>,
        result_content_type -> Nullable<Text>,
        result_bytes -> Nullable<Int8>,
        callback_url -> Nullable<Text>,
        callback_secret_sealed -> Nullable<Bytea>,
        callback_status -> Nullable<Text>,
        callback_attempts -> Int4,
        callback_last_error -> Nullable<Text>,
        event_id -> Nullable<Text>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        checkpoint -> Nullable<Jsonb>,
        result_expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    job_input_chunks (job_id, seq) {
        job_id -> Text,
        tenant_id -> Text,
        seq -> Int4,
        first_line -> Int8,
        bytes -> Int4,
        data -> Bytea,
    }
}

diesel::table! {
    job_result_chunks (job_id, attempt, seq) {
        job_id -> Text,
        attempt -> Int4,
        seq -> Int4,
        data -> Bytea,
    }
}

diesel::table! {
    idempotency_keys (tenant_id, client_id, key) {
        tenant_id -> Text,
        client_id -> Text,
        key -> Text,
        fingerprint -> Text,
        status -> Nullable<Int4>,
        location -> Nullable<Text>,
        body -> Nullable<Bytea>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(jobs, job_result_chunks, job_input_chunks, events);

diesel::table! {
    encounters (id) {
        id -> Text,
        tenant_id -> Text,
        incident_id -> Nullable<Text>,
        record -> Jsonb,
        call_received_at -> Timestamptz,
        created_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    encounter_access_log (id) {
        id -> Int8,
        tenant_id -> Text,
        encounter_id -> Text,
        actor -> Text,
        client_id -> Text,
        route -> Text,
        trace_id -> Nullable<Text>,
        read_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(encounters, encounter_access_log, incidents);

diesel::table! {
    devices (id) {
        id -> Text,
        tenant_id -> Text,
        serial_number -> Text,
        manufacturer -> Text,
        model -> Text,
        device_type -> Text,
        enrolled_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    device_observations (id) {
        id -> Text,
        tenant_id -> Text,
        device_id -> Text,
        encounter_id -> Nullable<Text>,
        code -> Text,
        unit -> Text,
        value -> Jsonb,
        effective_at -> Timestamptz,
        received_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(devices, device_observations, encounters);

diesel::table! {
    evidence_items (id) {
        id -> Text,
        tenant_id -> Text,
        incident_id -> Nullable<Text>,
        case_id -> Nullable<Text>,
        name -> Text,
        media_type -> Text,
        size_bytes -> Int8,
        sha256 -> Text,
        created_by -> Text,
        created_at -> Timestamptz,
        sealed_at -> Nullable<Timestamptz>,
        transcript_size -> Int8,
        tree_root -> Nullable<Bytea>,
        tree_frontier -> Bytea,
    }
}

diesel::table! {
    evidence_entries (evidence_id, sequence) {
        evidence_id -> Text,
        sequence -> Int8,
        tenant_id -> Text,
        operation -> Text,
        actor -> Text,
        client_id -> Text,
        recorded_at -> Timestamptz,
        content_sha256 -> Text,
        details -> Nullable<Text>,
        custodian -> Nullable<Text>,
        previous_hash -> Nullable<Bytea>,
        leaf_hash -> Bytea,
        tree_root -> Bytea,
        key_id -> Text,
        signature -> Bytea,
        algorithm -> Text,
    }
}

diesel::table! {
    provenance_keys (id) {
        id -> Text,
        tenant_id -> Text,
        algorithm -> Text,
        sealed_key -> Bytea,
        created_at -> Timestamptz,
        retired_at -> Nullable<Timestamptz>,
        public_key -> Nullable<Bytea>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(evidence_items, evidence_entries);

// Migration 2026-12-06-050100_environments.

diesel::table! {
    deployment_environment (singleton) {
        singleton -> Bool,
        environment -> Text,
        claimed_at -> Timestamptz,
    }
}

// Migration 2026-12-06-220000_sandbox_scenarios.

diesel::table! {
    sandbox_scenario_tenants (tenant_id) {
        tenant_id -> Text,
        app_tenant_id -> Text,
        scenario -> Text,
        seeded_at -> Timestamptz,
        webhook_answers -> Array<Int4>,
        // Migration 2026-12-08-000000_sandbox_write_seq.
        write_seq -> Int8,
        clock -> Timestamptz,
    }
}

// Migration 2026-12-06-220100_sandbox_outbox.

diesel::table! {
    sandbox_outbox (id) {
        id -> Text,
        tenant_id -> Text,
        connector -> Text,
        message_id -> Text,
        url -> Text,
        headers -> Jsonb,
        body -> Text,
        status -> Int4,
        sent_at -> Timestamptz,
    }
}
