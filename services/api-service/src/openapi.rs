//! The OpenAPI document of the transport at `/.well-known/openapi.json`.
//! It describes the HTTP contract only (headers, tenancy, errors): the
//! GraphQL schema itself is not published.

use argus_http::openapi::{BearerAuth, CommonPaths, ProblemResponses};
use auth_service::webhooks::WebhookPaths;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, RefOr, Required, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi};

use crate::routes::{devices, discovery as data_schemas, epcr, fhir, jobs, partner, provenance, sandbox};
use crate::sandbox::scenarios::{SHIPPED_SCENARIOS, Scenarios};
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
        sandbox::reset_scenario,
        sandbox::list_outbox,
        data_schemas::list_data_schemas,
        data_schemas::get_data_schema,
        partner::external_openapi,
        partner::external_graphql,
        docs::index,
        docs::topic,
        docs::llms_txt
    ),
    modifiers(
        &WebhookPaths,
        &CommonPaths,
        &BearerAuth,
        &SandboxWebhooks,
        &ScenarioHeader,
        &ScenarioListExample,
        &ProblemResponses
    )
)]
pub struct ApiDoc;

/// The `/v1/webhooks…` routes here are the sandbox's own (live serves them
/// on auth.knogin.com, whose document has them too): their path items name
/// the sandbox host as their only server.
struct SandboxWebhooks;

impl Modify for SandboxWebhooks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let sandbox = utoipa::openapi::Server::new(argus_types::Environment::Sandbox.default_api_url());
        for (path, item) in &mut openapi.paths.paths {
            if path.starts_with("/v1/webhooks") {
                item.servers = Some(vec![sandbox.clone()]);
                item.description = Some(
                    "On sandbox-api.knogin.com only (for sandbox tokens, on the sandbox's database); live webhooks \
                     are on auth.knogin.com."
                        .into(),
                );
            }
        }
    }
}

/// `X-Sandbox-Scenario`, declared on every route a bearer token reaches
/// (the `Principal` extractor and the GraphQL transport read it), with the
/// shipped scenarios' names and the answers it adds. Listed before
/// [`ProblemResponses`], so the added errors get its content.
struct ScenarioHeader;

impl ScenarioHeader {
    /// Adds `status` to `operation` unless the route already says what it
    /// means there (then it gets `why` appended).
    fn answer(operation: &mut Operation, status: &str, why: &str) {
        match operation.responses.responses.get_mut(status) {
            Some(RefOr::T(response)) => response.description = format!("{}; or {why}", response.description),
            Some(RefOr::Ref(_)) => {}
            None => {
                let response = ResponseBuilder::new().description(format!("{}{}", why[..1].to_uppercase(), &why[1..]));
                operation.responses.responses.insert(status.to_owned(), response.build().into());
            }
        }
    }
}

impl Modify for ScenarioHeader {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let names: Vec<&str> = SHIPPED_SCENARIOS.iter().map(|(name, _)| *name).collect();
        let parameter = ParameterBuilder::new()
            .name("X-Sandbox-Scenario")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Sandbox only (sandbox-api.knogin.com, sandbox tokens): runs the request in this scenario \
                 (GET /v1/sandbox/scenarios lists them), in a tenant of its own for the token's tenant, seeded on \
                 first use, with stable ids and the scenario's fixed clock, so the same request gets the same \
                 bytes. Writes work too, and repeat as exactly: each takes the next number of the copy, its \
                 time is the scenario's clock plus that many seconds and its ids follow from the number, so \
                 the same writes after POST /v1/sandbox/scenarios/{name}/reset give the same bytes. Without \
                 it the request runs in the caller's own sandbox tenant. Live answers it with 400; an unknown \
                 name is a 404.",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names))))
            .build();
        for item in openapi.paths.paths.values_mut() {
            let operations =
                [&mut item.get, &mut item.head, &mut item.put, &mut item.post, &mut item.patch, &mut item.delete];
            for operation in operations {
                let Some(operation) = operation else { continue };
                // Only the routes a bearer token reaches read the header.
                if operation.security.as_ref().is_none_or(Vec::is_empty) {
                    continue;
                }
                operation.parameters.get_or_insert_with(Vec::new).push(parameter.clone().into());
                Self::answer(operation, "400", "X-Sandbox-Scenario is not a scenario's name, or was sent to live");
                Self::answer(operation, "404", "X-Sandbox-Scenario names no scenario");
            }
        }
    }
}

/// The scenario list's example is the shipped list itself, so it shows the
/// real names, descriptions, clocks and connector scripts and cannot drift
/// from the files. (A file that does not load stops the sandbox and fails
/// its unit tests, so the example is never missing in a release.)
struct ScenarioListExample;

impl Modify for ScenarioListExample {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(list) = Scenarios::shipped().ok().and_then(|s| serde_json::to_value(s.list()).ok()) else { return };
        let answer = openapi.paths.paths.get_mut("/v1/sandbox/scenarios").and_then(|item| item.get.as_mut());
        if let Some(RefOr::T(ok)) = answer.and_then(|operation| operation.responses.responses.get_mut("200"))
            && let Some(RefOr::T(json)) = ok.content.get_mut("application/json")
        {
            json.example = Some(list);
        }
    }
}
