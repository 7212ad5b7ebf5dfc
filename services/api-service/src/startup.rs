//! Builds the HTTP server from a config.

use std::sync::Arc;

use utoipa::OpenApi;

use actix_web::web;
use argus_authn::{
    JwksError, JwksPolicy, KeySource, ProvisionedTenants, PublishedOptions, PublishedRevocations,
    SharedScenarioTenants, TokenVerifier, remote_jwks,
};
use argus_http::Endpoint;
use argus_http::deprecation::{Deprecations, MatrixError};
use argus_http::discovery;
use argus_http::serve::{BindError, Servers, common_routes, open_store};
use argus_store::StoreError;
use argus_store::revoked::RevokedTokens;

use crate::config::{ApiConfig, Environment};
use crate::data_schemas::DataSchemas;
use crate::docs::{self, Docs};
use crate::graphql::surface::{GraphqlSurface, SurfaceError};
use crate::graphql::{self, GraphqlState};
use crate::openapi;
use crate::partner::{MergeConflict, PartnerFiles};
use crate::routes::{self, jobs::JobsState};
use crate::sandbox::scenarios::{ScenarioTenantsInStore, Scenarios};
use crate::traces::{self, TraceLookup};
use auth_service::webhooks::WebhooksState;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Serve(#[from] std::io::Error),
    #[error(transparent)]
    Deprecations(#[from] MatrixError),
    #[error(transparent)]
    Surface(#[from] SurfaceError),
    #[error(transparent)]
    Scenario(#[from] crate::sandbox::scenarios::ScenarioError),
    #[error("the partner contract's OpenAPI document: {0}")]
    Partner(#[from] MergeConflict),
    /// A setting of the other environment (its database, its JWKS):
    /// refused at start.
    #[error("{0}")]
    Environment(String),
}

/// The api-service's public and admin servers, bound to the config's
/// addresses and ready to run (tests read their ports first).
pub async fn build(config: ApiConfig) -> Result<Servers, StartupError> {
    let api_doc = openapi::ApiDoc::openapi();
    let deprecations =
        web::Data::new(Deprecations::load(config.deprecations_file.as_deref(), "api-service", &api_doc)?);
    let environment = config.environment;
    // The key gate's start-up half: never the other environment's JWKS.
    environment
        .check_jwks_url(&config.jwks_url)
        .map_err(|e| StartupError::Environment(format!("ARGUS_JWKS_URL {e}")))?;
    let (store, metrics) = open_store(&config.store, config.migrate).await?;
    store.check_tls_at_start().await?;
    // Never the other environment's database.
    argus_http::environment::check_database(&store, environment, config.migrate)
        .await
        .map_err(StartupError::Environment)?;
    let policy = JwksPolicy { key_set: Some(environment), ..JwksPolicy::default() };
    let jwks =
        remote_jwks(&config.jwks_url, policy).map_err(|e| StartupError::Environment(format!("ARGUS_JWKS_URL {e}")))?;
    match jwks.refresh().await {
        Ok(_) => {}
        Err(e @ JwksError::WrongKeySet { .. }) => return Err(StartupError::Environment(e.to_string())),
        // Not fatal: the API starts while the auth-service is down and
        // fetches the keys with the first token.
        Err(e) => tracing::warn!(error = %e, "JWKS not fetched at start; will retry"),
    }
    jwks.spawn_background_refresh();
    let verifier = TokenVerifier::new(jwks.clone() as Arc<dyn KeySource>, &config.issuer, environment.audience());
    let verifier = match environment {
        Environment::Live => verifier.with_revocations(RevokedTokens::listening(
            store.clone(),
            config.store.database_url.clone(),
            "argus-api-revoked",
        )),
        // Revocations are written in the live database, which the sandbox
        // never reads: it polls the list the auth-service publishes beside
        // the sandbox key set.
        Environment::Sandbox => {
            crate::sandbox::load_shipped_bundles(&store).await?;
            let url = argus_types::environment::sandbox_revocations_url(&config.jwks_url)
                .map_err(|e| StartupError::Environment(format!("ARGUS_JWKS_URL {e}")))?;
            let revocations = PublishedRevocations::new(url, PublishedOptions::default());
            // Not fatal: until a fetch succeeds every token is answered 503.
            if let Err(e) = revocations.refresh().await {
                tracing::warn!(error = %e, "sandbox revocation list not fetched at start; will retry");
            }
            revocations.spawn_polling();
            verifier
                .with_published_revocations(revocations)
                .with_provisioned_tenants(ProvisionedTenants::new(store.clone()))
        }
    };
    let jobs = web::Data::new(JobsState {
        store: store.clone(),
        sealer: argus_crypto::webhook::SecretBox::new(config.jobs.secret_pepper.as_bytes()),
        allow_private_callbacks: config.jobs.allow_private_callbacks,
        max_body: config.jobs.max_body,
        tenant_quota_bytes: config.jobs.tenant_quota_bytes,
        max_rows: config.jobs.max_rows,
        bodies_in_flight: Arc::new(tokio::sync::Semaphore::new(config.jobs.max_bodies_in_flight)),
    });
    let rest_verifier = web::Data::new(verifier.clone());
    let rest_store = web::Data::new(store.clone());
    let provenance = argus_crypto::provenance::ProvenanceSealer::new(config.jobs.secret_pepper.as_bytes());
    let scenarios = Arc::new(Scenarios::shipped()?);
    // Only the sandbox runs requests in a scenario; live refuses the header.
    // The same tenants twice: as the principal's scenarios, and for the
    // reset route.
    let scenario_tenants = (environment == Environment::Sandbox).then(|| {
        let secrets = argus_crypto::webhook::SecretBox::new(config.jobs.secret_pepper.as_bytes());
        let tenants =
            Arc::new(ScenarioTenantsInStore::new(scenarios.clone(), store.clone(), provenance.clone(), secrets));
        (web::Data::from(tenants.clone()), web::Data::new(tenants as SharedScenarioTenants))
    });
    let scenarios = web::Data::from(scenarios);
    // The sandbox's own webhooks, on its database (live, the auth-service
    // serves these routes on the live database).
    let webhook_routes = (environment == Environment::Sandbox).then(|| {
        web::Data::new(WebhooksState {
            store: store.clone(),
            sealer: argus_crypto::webhook::SecretBox::new(config.jobs.secret_pepper.as_bytes()),
            allow_private: config.jobs.allow_private_callbacks,
            max_per_tenant: config.webhooks.max_per_tenant,
            manual_sends: auth_service::ManualSends::new(&config.webhooks),
        })
    });
    let traces = web::Data::new(TraceLookup { store: store.clone(), retention: config.trace_retention });
    let state = GraphqlState::new(
        store.clone(),
        verifier,
        graphql::IncidentCache::listening_to(config.store.database_url.clone()),
        provenance.clone(),
    );
    let state =
        web::Data::new(if environment == Environment::Sandbox { state.approving_every_bundle() } else { state });
    let provenance = web::Data::new(provenance);
    let surface = GraphqlSurface::of(state.schema)?;
    let partner_files = web::Data::new(PartnerFiles::new(&surface, &api_doc)?);
    let data_schemas = web::Data::new(DataSchemas::new(surface, &api_doc, &config.public_urls.api));
    let docs = web::Data::new(Docs::new(&config.public_urls.docs, &config.public_urls.api, &config.public_urls.auth));
    let catalog = discovery::CatalogOf { host: config.public_urls.api.clone(), urls: config.public_urls.clone() };
    let servers =
        Servers::bind(&config.listen_addr, &config.admin_addr, config.shutdown, &store, metrics, move |cfg| {
            cfg.app_data(state.clone())
                .app_data(jobs.clone())
                .app_data(rest_verifier.clone())
                .app_data(rest_store.clone())
                .app_data(provenance.clone())
                .app_data(traces.clone())
                .app_data(deprecations.clone())
                .app_data(data_schemas.clone())
                .app_data(partner_files.clone())
                .app_data(scenarios.clone())
                .configure(common_routes(api_doc.clone(), catalog.clone()))
                .configure(docs::configure(docs.clone()))
                .configure(routes);
            if let Some((resettable, tenants)) = &scenario_tenants {
                cfg.app_data(resettable.clone()).app_data(tenants.clone());
            }
            if let Some(webhooks) = &webhook_routes {
                cfg.app_data(web::Data::new(routes::sandbox::SandboxHost))
                    .app_data(webhooks.clone())
                    .configure(auth_service::webhooks::configure);
            }
        })?;
    tracing::info!(
        port = servers.port(),
        admin_port = servers.admin_port(),
        environment = ?config.environment,
        audience = environment.audience(),
        jwks = %config.jwks_url,
        "api-service listening"
    );
    Ok(servers)
}

/// Builds the service and serves until it stops: the binary's `main`.
pub async fn serve(config: ApiConfig) -> Result<(), StartupError> {
    Ok(build(config).await?.run_until_stopped().await?)
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/v1/observability/traces/{trace_id}").get(traces::get_trace))
        .service(Endpoint::new("/graphql").post(graphql::graphql).get(graphql::no_playground))
        .configure(routes::jobs::configure)
        .configure(routes::epcr::configure)
        .configure(routes::devices::configure)
        .configure(routes::fhir::configure)
        .configure(routes::provenance::configure)
        .configure(routes::discovery::configure)
        .configure(routes::partner::configure)
        .configure(routes::sandbox::configure);
    for path in ["/playground", "/graphiql", "/graphql/playground", "/graphql/graphiql", "/graphql/schema"] {
        cfg.service(web::resource(path).to(graphql::no_playground));
    }
}
