//! Builds the HTTP server from a config: pools, keys, routes.

use std::sync::Arc;

use utoipa::OpenApi;

use actix_web::web;
use argus_authn::TokenVerifier;
use argus_crypto::SecretHasher;
use argus_store::StoreError;
use argus_store::oauth::SignInLockout;
use argus_store::revoked::RevokedTokens;
use argus_types::Environment;

use crate::config::{AuthConfig, DEV_PEPPER};
use crate::error::ApiError;
use crate::keyring::{EitherKeySet, KeyRing};
use crate::oauth::{ClientCache, PasswordChecks, TokenIssuer};
use crate::ratelimit::{ManualSends, RateLimits};
use crate::routes::webhooks::WebhooksState;
use crate::routes::{apps, authorize, credentials, jwks, metadata, oauth, openapi, scopes, webhooks};
use crate::state::AppState;
use argus_http::body::MAX_JSON_BODY;
use argus_http::deprecation::{Deprecations, MatrixError};
use argus_http::serve::{BindError, Servers, common_routes, open_store};
use argus_http::{Endpoint, discovery};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Serve(#[from] std::io::Error),
    #[error(transparent)]
    Deprecations(#[from] MatrixError),
    /// The sandbox's database: refused at start.
    #[error("{0}")]
    Environment(String),
}

/// The auth-service's public and admin servers, bound to the config's
/// addresses and ready to run (tests read their ports first).
pub async fn build(config: AuthConfig) -> Result<Servers, StartupError> {
    let api_doc = openapi::ApiDoc::openapi();
    let deprecations =
        web::Data::new(Deprecations::load(config.deprecations_file.as_deref(), "auth-service", &api_doc)?);
    let (store, metrics) = open_store(&config.store, config.migrate).await?;
    if config.secret_pepper == DEV_PEPPER {
        tracing::warn!("ARGUS_SECRET_PEPPER is unset: using the development pepper");
    }
    if config.key_sealer.is_development() {
        tracing::warn!("ARGUS_KEY_SEALING_KEYS is unset: signing keys are sealed with the development key");
    }
    // The auth-service works on the live database only (sandbox apps are
    // live apps holding sandbox tokens).
    argus_http::environment::check_database(&store, Environment::Live, config.migrate)
        .await
        .map_err(StartupError::Environment)?;
    let keys = KeyRing::load(store.clone(), config.key_sealer.clone(), Environment::Live).await?;
    keys.spawn_background_refresh();
    let sandbox_keys = KeyRing::load(store.clone(), config.key_sealer.clone(), Environment::Sandbox).await?;
    sandbox_keys.spawn_background_refresh();
    let key_source = keys.clone() as Arc<dyn argus_authn::KeySource>;
    let both_sets = Arc::new(EitherKeySet { live: keys.clone(), sandbox: sandbox_keys.clone() });
    let revoked = RevokedTokens::listening(store.clone(), config.store.database_url.clone(), "argus-auth-revoked");
    let verifier =
        TokenVerifier::new(key_source.clone(), &config.issuer, &config.audience).with_revocations(revoked.clone());
    let any_audience = TokenVerifier::for_audiences(
        both_sets,
        &config.issuer,
        &[config.audience.as_str(), argus_types::claims::SANDBOX_AUDIENCE],
    )
    .with_revocations(revoked.clone());
    let seconds = |s: u32| chrono::Duration::seconds(i64::from(s));
    let tokens = TokenIssuer {
        keys: keys.clone(),
        sandbox_keys: sandbox_keys.clone(),
        issuer: config.issuer.clone(),
        audience: config.audience.clone(),
        default_ttl: seconds(config.oauth.access_token_ttl_seconds),
        refresh_ttl: seconds(config.oauth.refresh_token_ttl_seconds),
    };
    let state = AppState {
        store,
        keys,
        sandbox_keys,
        secrets: SecretHasher::new(config.secret_pepper.as_bytes()),
        tokens,
        clients: ClientCache::listening_to(config.store.database_url.clone()),
        limits: RateLimits::new(&config.oauth, config.trusted_proxies.clone()),
        passwords: PasswordChecks::new(config.password_checks),
        lockout: SignInLockout {
            free_attempts: i32::try_from(config.oauth.sign_in_free_attempts).unwrap_or(i32::MAX),
            base_delay: std::time::Duration::from_secs(config.oauth.sign_in_lockout_seconds.into()),
            max_delay: std::time::Duration::from_secs(15 * 60),
        },
        any_audience,
        revoked,
        session_ttl: seconds(config.oauth.session_ttl_seconds),
        secure_cookies: config.issuer.starts_with("https://"),
    };

    let webhook_routes = web::Data::new(WebhooksState {
        store: state.store.clone(),
        sealer: argus_crypto::webhook::SecretBox::new(config.secret_pepper.as_bytes()),
        allow_private: config.webhook_allow_private,
        max_per_tenant: config.webhooks.max_per_tenant,
        manual_sends: ManualSends::new(&config.webhooks),
    });
    let store = state.store.clone();
    let catalog = discovery::CatalogOf { host: config.public_urls.auth.clone(), urls: config.public_urls.clone() };
    let state = web::Data::new(state);
    let verifier = web::Data::new(verifier);
    let servers =
        Servers::bind(&config.listen_addr, &config.admin_addr, config.shutdown, &store, metrics, move |cfg| {
            cfg.app_data(state.clone())
                .app_data(webhook_routes.clone())
                .app_data(verifier.clone())
                .app_data(web::FormConfig::default().limit(MAX_JSON_BODY))
                .app_data(web::PayloadConfig::new(MAX_JSON_BODY))
                .app_data(deprecations.clone())
                .configure(common_routes(api_doc.clone(), catalog.clone()))
                .configure(routes);
        })?;
    tracing::info!(port = servers.port(), admin_port = servers.admin_port(), "auth-service listening");
    Ok(servers)
}

/// Builds the service and serves until it stops: the binary's `main`.
pub async fn serve(config: AuthConfig) -> Result<(), StartupError> {
    Ok(build(config).await?.run_until_stopped().await?)
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/.well-known/jwks.json").get(jwks::well_known_jwks))
        .service(Endpoint::new("/v1/auth/jwks.json").get(jwks::versioned_jwks))
        .service(Endpoint::new(argus_types::environment::SANDBOX_JWKS_PATH).get(jwks::sandbox_jwks))
        .service(Endpoint::new(argus_types::environment::SANDBOX_REVOCATIONS_PATH).get(jwks::sandbox_revocations))
        .service(Endpoint::new("/v1/platform/scopes").get(scopes::list_scopes))
        .service(Endpoint::new("/v1/platform/apps").get(apps::list_apps).post(apps::create_app))
        .service(Endpoint::new("/v1/platform/apps/{client_id}").get(apps::get_app))
        .service(Endpoint::new("/v1/platform/apps/{client_id}/governance").patch(apps::patch_governance))
        .service(Endpoint::new("/v1/platform/apps/{client_id}/service-token").post(credentials::service_token))
        .service(Endpoint::new("/v1/platform/apps/{client_id}/sandbox-token").post(credentials::sandbox_token))
        .service(Endpoint::new("/v1/platform/apps/{client_id}/rotate-secret").post(credentials::rotate_secret))
        .configure(webhooks::configure)
        .service(Endpoint::new("/v1/oauth/authorize").get(authorize::authorize))
        .service(Endpoint::new("/v1/oauth/sign-in").post(authorize::sign_in))
        .service(Endpoint::new("/v1/oauth/consent").post(authorize::consent))
        .service(Endpoint::new("/v1/oauth/token").post(oauth::token))
        .service(Endpoint::new("/v1/oauth/revoke").post(oauth::revoke))
        .service(Endpoint::new("/v1/oauth/introspect").post(oauth::introspect))
        .service(Endpoint::new("/.well-known/oauth-authorization-server").get(metadata::oauth_metadata))
        .service(Endpoint::new("/.well-known/openid-configuration").get(metadata::openid_configuration));
}
