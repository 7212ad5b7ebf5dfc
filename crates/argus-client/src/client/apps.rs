//! App registration at the auth-service: the scope catalog, apps, their
//! governance, and the credentials an admin mints for them.

use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::{Deserialize, Serialize};

pub use argus_types::{ClientType, Governance, GrantType};

use super::{ArgusClient, Call, Host, segment};
use crate::error::Result;

/// A scope an app may ask for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScopeInfo {
    /// The scope's name, e.g. `webhooks:write`.
    pub name: String,
    /// What it allows.
    pub description: String,
}

#[derive(Deserialize)]
struct ScopeCatalog {
    scopes: Vec<ScopeInfo>,
}

/// `POST /v1/platform/apps`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewApp {
    /// 1 to 200 characters.
    pub name: String,
    /// The grants the app may use.
    pub grant_types: Vec<GrantType>,
    /// Absolute `https` URIs (`http` only for localhost); required for
    /// `authorization_code`.
    pub redirect_uris: Vec<String>,
    /// Scope names from [`ArgusClient::scopes`].
    pub requested_scopes: Vec<String>,
    /// `confidential` (the default: it gets a secret) or `public` (PKCE only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_type: Option<ClientType>,
}

/// A registered app.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct App {
    /// `app_…`.
    pub client_id: String,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// Its name.
    pub name: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// The grants it may use.
    pub grant_types: Vec<GrantType>,
    /// Its registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The scopes it asked for.
    pub requested_scopes: Vec<String>,
    /// The scopes it was approved for.
    pub approved_scopes: Vec<String>,
    /// Its governance settings.
    pub governance: Governance,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A newly registered app, with its secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreatedApp {
    /// The app.
    #[serde(flatten)]
    pub app: App,
    /// Shown only here, for confidential apps: store it now.
    #[serde(default)]
    pub client_secret: Option<String>,
}

page!(AppList, apps, App);

/// A governance change: only the fields set are changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GovernancePatch {
    /// Whether an admin may mint service tokens for the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_service_tokens: Option<bool>,
    /// Whether its authorization requests must carry PKCE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforce_pkce: Option<bool>,
    /// The longest token lifetime, 60 to 86400 s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_token_lifetime_seconds: Option<u32>,
    /// The approved scopes its tokens may carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_scopes: Option<Vec<String>>,
    /// The registered redirect URIs it may use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_redirect_uris: Option<Vec<String>>,
}

/// An app's governance after a change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GovernanceView {
    /// The app.
    pub client_id: String,
    /// Its governance now.
    pub governance: Governance,
}

/// A service or sandbox token an admin minted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MintedToken {
    /// The access token.
    pub token: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// Its scopes, space-separated.
    pub scope: String,
    /// `api.knogin.com`, or `sandbox` for sandbox tokens.
    pub audience: String,
}

/// An app's new secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RotatedSecret {
    /// The app.
    pub client_id: String,
    /// Shown only here: store it now.
    pub client_secret: String,
    /// When the previous secret stops working (absent if there was none).
    #[serde(default)]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl ArgusClient {
    /// `GET /v1/platform/scopes`: the scopes apps may ask for.
    pub async fn scopes(&self) -> Result<Vec<ScopeInfo>> {
        Ok(self.json::<ScopeCatalog>(&Call::get(Host::Auth, "/v1/platform/scopes")).await?.scopes)
    }

    /// `POST /v1/platform/apps` (`platform:admin`): registers an app.
    pub async fn create_app(&self, app: &NewApp) -> Result<CreatedApp> {
        self.json(&Call::post(Host::Auth, "/v1/platform/apps").json(app)?).await
    }

    /// `GET /v1/platform/apps`: the tenant's apps, every page.
    pub fn list_apps(&self) -> impl Stream<Item = Result<App>> + Send + 'static {
        self.paginate::<AppList>(Call::get(Host::Auth, "/v1/platform/apps"))
    }

    /// `GET /v1/platform/apps/{client_id}`.
    pub async fn app(&self, client_id: &str) -> Result<App> {
        self.json(&Call::get(Host::Auth, format!("/v1/platform/apps/{}", segment(client_id)))).await
    }

    /// `PATCH /v1/platform/apps/{client_id}/governance`.
    pub async fn update_governance(&self, client_id: &str, patch: &GovernancePatch) -> Result<GovernanceView> {
        let path = format!("/v1/platform/apps/{}/governance", segment(client_id));
        self.json(&super::Call::new(reqwest::Method::PATCH, Host::Auth, path).json(patch)?).await
    }

    /// `POST /v1/platform/apps/{client_id}/service-token`: a token for
    /// automation, within the app's governance (`expires_in` seconds, or
    /// the default lifetime).
    pub async fn mint_service_token(
        &self,
        client_id: &str,
        scopes: &[&str],
        expires_in: Option<u32>,
    ) -> Result<MintedToken> {
        #[derive(Serialize)]
        struct Body<'a> {
            scopes: &'a [&'a str],
            #[serde(skip_serializing_if = "Option::is_none")]
            expires_in: Option<u32>,
        }
        let path = format!("/v1/platform/apps/{}/service-token", segment(client_id));
        self.json(&Call::post(Host::Auth, path).json(&Body { scopes, expires_in })?).await
    }

    /// `POST /v1/platform/apps/{client_id}/sandbox-token`: a token only the
    /// sandbox API accepts.
    pub async fn mint_sandbox_token(&self, client_id: &str, scopes: &[&str]) -> Result<MintedToken> {
        let path = format!("/v1/platform/apps/{}/sandbox-token", segment(client_id));
        self.json(&Call::post(Host::Auth, path).json(&serde_json::json!({ "scopes": scopes }))?).await
    }

    /// `POST /v1/platform/apps/{client_id}/rotate-secret`: a new secret;
    /// the previous one keeps working for `grace_period_seconds` (default
    /// 24 h, 0: stops at once).
    pub async fn rotate_secret(&self, client_id: &str, grace_period_seconds: Option<u32>) -> Result<RotatedSecret> {
        let path = format!("/v1/platform/apps/{}/rotate-secret", segment(client_id));
        let body = serde_json::json!({ "grace_period_seconds": grace_period_seconds });
        self.json(&Call::post(Host::Auth, path).json(&body)?).await
    }
}
