use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use argus_store::WriteStamp;
use argus_types::scopes::implied_by;
use argus_types::{AccessClaims, ScopeSet, TenantId};

use crate::{AuthnError, TokenVerifier};

/// A caller whose bearer token verified.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: TenantId,
    pub subject: String,
    pub client_id: String,
    pub scopes: ScopeSet,
    pub claims: AccessClaims,
    /// The sandbox scenario the request runs in (`X-Sandbox-Scenario`):
    /// then `tenant` is that scenario's tenant for the token's, not the
    /// token's own (`claims.tid`).
    pub scenario: Option<String>,
}

impl Principal {
    pub fn from_claims(claims: AccessClaims) -> Self {
        Principal {
            tenant: claims.tid.clone(),
            subject: claims.sub.clone(),
            client_id: claims.client_id.clone(),
            scopes: claims.scopes(),
            claims,
            scenario: None,
        }
    }

    /// The principal moved into the scenario `req` names in
    /// `X-Sandbox-Scenario`, if it names one: its tenant becomes the
    /// scenario's tenant for the token's tenant (seeded on first use).
    /// A scenario is answered by the sandbox only (one is configured there,
    /// as [`SharedScenarioTenants`] app data).
    pub async fn enter_scenario(mut self, req: &HttpRequest) -> Result<Self, AuthnError> {
        let Some(name) = requested_scenario(req)? else { return Ok(self) };
        let scenarios = req.app_data::<web::Data<SharedScenarioTenants>>().ok_or(AuthnError::ScenarioNotHere)?;
        self.tenant = scenarios.tenant_for(&self.claims.tid, &name).await?;
        self.scenario = Some(name);
        Ok(self)
    }

    /// How the principal's writes stamp their ids and times: derived from
    /// the scenario under one (so the same writes after a reset make the
    /// same rows), fresh otherwise.
    pub fn write_stamp(&self) -> WriteStamp {
        if self.scenario.is_some() { WriteStamp::Scenario } else { WriteStamp::Now }
    }

    /// Whether the token holds `scope`, or the scope that implies it.
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.contains(scope) || implied_by(scope).is_some_and(|s| self.scopes.contains(s))
    }
}

/// The request header that selects a sandbox scenario.
pub const SCENARIO_HEADER: &str = "x-sandbox-scenario";

/// The longest scenario name.
const MAX_SCENARIO_NAME: usize = 64;

/// The scenario `X-Sandbox-Scenario` names, if sent; a value that cannot
/// be a scenario's name is refused before anything is looked up.
pub fn requested_scenario(req: &HttpRequest) -> Result<Option<String>, AuthnError> {
    let Some(value) = req.headers().get(SCENARIO_HEADER) else { return Ok(None) };
    let name = value.to_str().map_err(|_| AuthnError::ScenarioHeader)?;
    let well_formed = (1..=MAX_SCENARIO_NAME).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if well_formed { Ok(Some(name.to_owned())) } else { Err(AuthnError::ScenarioHeader) }
}

/// Where the sandbox keeps each token tenant's scenario tenants.
pub trait ScenarioTenants: Send + Sync + 'static {
    /// The tenant of `scenario` for `app_tenant`, seeded if new;
    /// [`AuthnError::UnknownScenario`] when there is no such scenario.
    fn tenant_for<'a>(
        &'a self,
        app_tenant: &'a TenantId,
        scenario: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<TenantId, AuthnError>> + 'a>>;
}

/// [`ScenarioTenants`] as app data.
pub type SharedScenarioTenants = std::sync::Arc<dyn ScenarioTenants>;

/// The bearer token of `Authorization`, for handlers that verify it
/// themselves (to answer in their own error format).
pub fn bearer_token(req: &HttpRequest) -> Result<String, AuthnError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or(AuthnError::Missing)?;
    let value = value.to_str().map_err(|_| AuthnError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthnError::Malformed)?;
    // RFC 7235 §2.1: the scheme is case-insensitive.
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthnError::Missing);
    }
    let token = token.trim();
    if token.is_empty() { Err(AuthnError::Malformed) } else { Ok(token.to_owned()) }
}

impl FromRequest for Principal {
    type Error = AuthnError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<TokenVerifier>>().cloned();
        let token = bearer_token(req);
        let req = req.clone();
        Box::pin(async move {
            let verifier = verifier.ok_or(AuthnError::NotConfigured)?;
            let claims = verifier.verify(&token?).await?;
            let principal = Principal::from_claims(claims).enter_scenario(&req).await?;
            argus_telemetry::record_tenant(principal.tenant.as_str());
            Ok(principal)
        })
    }
}

/// A scope a route demands, as a type, so the demand is in the handler's
/// signature.
pub trait RequiredScope {
    const SCOPE: &'static str;
    /// The one client whose tokens may carry this scope, when only one may.
    const ISSUED_TO: Option<&'static str> = None;
}

/// A verified caller holding `S::SCOPE`: 401 without a valid token, 403
/// without the scope.
#[derive(Debug, Clone)]
pub struct Scoped<S: RequiredScope>(pub Principal, PhantomData<S>);

impl<S: RequiredScope> Scoped<S> {
    pub fn principal(&self) -> &Principal {
        &self.0
    }

    pub fn tenant(&self) -> &TenantId {
        &self.0.tenant
    }
}

impl<S: RequiredScope + 'static> FromRequest for Scoped<S> {
    type Error = AuthnError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let principal = Principal::from_request(req, payload);
        Box::pin(async move {
            let principal = principal.await?;
            if !principal.has(S::SCOPE) {
                return Err(AuthnError::InsufficientScope(S::SCOPE));
            }
            // A token from any other client that carries the scope anyway
            // (minted before the scope left the catalog) is refused.
            if S::ISSUED_TO.is_some_and(|client| principal.client_id != client) {
                return Err(AuthnError::InsufficientScope(S::SCOPE));
            }
            Ok(Scoped(principal, PhantomData))
        })
    }
}

/// The request header naming the tenant a call acts for.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// A [`Scoped`] caller acting for the token's tenant: what the
/// api-service's REST routes take. The contract asks for `X-Tenant-ID` on
/// `/graphql` only, so here the header is optional; when sent it must name
/// the token's tenant (403 otherwise).
#[derive(Debug, Clone)]
pub struct TenantScoped<S: RequiredScope>(pub Scoped<S>);

impl<S: RequiredScope> TenantScoped<S> {
    pub fn principal(&self) -> &Principal {
        self.0.principal()
    }

    pub fn tenant(&self) -> &TenantId {
        self.0.tenant()
    }
}

impl<S: RequiredScope + 'static> FromRequest for TenantScoped<S> {
    type Error = AuthnError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let scoped = Scoped::<S>::from_request(req, payload);
        // A header that is not text names no tenant, so it cannot match.
        let header = req.headers().get(TENANT_HEADER).map(|v| v.to_str().unwrap_or_default().to_owned());
        Box::pin(async move {
            let scoped = scoped.await?;
            // The token's tenant, also in a scenario (whose tenant the
            // caller never names).
            if header.is_some_and(|h| h != scoped.principal().claims.tid.as_str()) {
                return Err(AuthnError::TenantMismatch);
            }
            Ok(TenantScoped(scoped))
        })
    }
}

/// Marker types for [`Scoped`], one per scope a route requires.
macro_rules! required_scopes {
    ($($name:ident => $scope:literal),+ $(,)?) => {
        $(
            #[doc = concat!("`", $scope, "`.")]
            #[derive(Debug, Clone)]
            pub struct $name;

            impl RequiredScope for $name {
                const SCOPE: &'static str = $scope;
            }
        )+
    };
}

required_scopes! {
    TracesRead => "traces:read",
    WebhooksRead => "webhooks:read",
    WebhooksWrite => "webhooks:write",
    JobsRead => "jobs:read",
    JobsWrite => "jobs:write",
    DevicesRead => "devices:read",
    DevicesWrite => "devices:write",
    EpcrRead => "epcr:read",
    EpcrWrite => "epcr:write",
    EvidenceRead => "evidence:read",
    EvidenceVerify => "evidence:verify",
    SchemasRead => "schemas:read",
}

/// `platform:admin`: the tenant admin's scope for app registration and
/// governance, on tokens `argusctl` minted and no others.
#[derive(Debug, Clone)]
pub struct PlatformAdmin;

impl RequiredScope for PlatformAdmin {
    const SCOPE: &'static str = argus_types::scopes::PLATFORM_ADMIN;
    const ISSUED_TO: Option<&'static str> = Some(argus_types::scopes::ADMIN_CLIENT_ID);
}
