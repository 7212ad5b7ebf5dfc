//! The OpenAPI document of the transport at `/.well-known/openapi.json`.
//! It describes the HTTP contract only (headers, tenancy, errors): the
//! GraphQL schema itself is not published.

use argus_http::openapi::{BearerAuth, CommonPaths, ProblemResponses};
use utoipa::OpenApi;

use crate::routes::{devices, discovery as data_schemas, epcr, fhir, jobs, partner, provenance, sandbox};
use crate::{docs, graphql, traces};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Argus API (api.knogin.com)",
        description = "The shared GraphQL transport: bearer tokens from auth.knogin.com, tenant scoping with \
                       X-Tenant-ID, and curated operation bundles instead of a published schema. The sandbox \
                       (sandbox-api.knogin.com) takes only tokens with aud=sandbox. Async jobs (/v1/jobs) are REST with \
                       problem+json errors and Idempotency-Key replay. ePCR encounters (/api/v1/epcr/encounters) are REST with \
                       problem+json errors; a 400 names every bad field in invalid-params. Evidence provenance \
                       (/v1/evidence/{evidence_id}/provenance) serves and verifies signed RFC 9162 Merkle transcripts. The data \
                       schemas (/v1/discovery/data-schemas) are the JSON Schemas of the resources a token reads; approved \
                       partners fetch the partner contract files (/partners/contract/v2026.4/)."
    ),
    servers(
        (url = "https://api.knogin.com", description = "api: the GraphQL transport and the REST API"),
        (url = "https://sandbox-api.knogin.com", description = "sandbox-api: the same API with deterministic mock connectors, for sandbox tokens (aud=sandbox)")
    ),
    paths(
        graphql::graphql,
        jobs::create::create_job,
        jobs::list_jobs,
        jobs::get_job,
        jobs::job_result,
        jobs::cancel_job,
        epcr::create_encounter,
        epcr::get_encounter,
        devices::list_devices,
        devices::enrol_device,
        devices::submit_observation,
        fhir::encounter_fhir_bundle,
        provenance::get_provenance,
        provenance::verify_provenance,
        provenance::provenance_keys,
        traces::get_trace,
        sandbox::list_scenarios,
        sandbox::list_outbox,
        data_schemas::list_data_schemas,
        data_schemas::get_data_schema,
        partner::external_openapi,
        partner::external_graphql,
        docs::index,
        docs::topic,
        docs::llms_txt
    ),
    modifiers(&CommonPaths, &BearerAuth, &ProblemResponses)
)]
pub struct ApiDoc;
