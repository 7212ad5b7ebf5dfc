//! auth-service configuration, from the environment.

use argus_http::cli::Binary;
use argus_http::discovery::{DISCOVERY_ENVIRONMENT, PublicUrls};
use argus_http::serve::Shutdown;
use argus_store::StoreConfig;
use argus_types::claims::LIVE_AUDIENCE;
use argus_types::env::{ConfigError, flag, parse_var, var_or};

pub use argus_crypto::DEV_PEPPER;

const DEFAULT_PASSWORD_CHECKS: usize = 4;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `ARGUS_AUTH_ADDR` (default `127.0.0.1:8080`); port 0 picks a free one.
    pub listen_addr: String,
    /// `ARGUS_AUTH_ADMIN_ADDR` (default `127.0.0.1:9080`): `/metrics`,
    /// `/healthz` and `/readyz` for operators, never routed publicly.
    pub admin_addr: String,
    /// `ARGUS_DATABASE_URL`, `ARGUS_DB_MAX_CONNECTIONS` (default 16).
    pub store: StoreConfig,
    /// `ARGUS_ISSUER` (default `http://127.0.0.1:8080`): the `iss` of every token.
    pub issuer: String,
    /// `ARGUS_AUDIENCE` (default `api.knogin.com`): the audience this
    /// service's own routes accept.
    pub audience: String,
    /// The public URLs the API catalog links to (`ARGUS_API_URL`,
    /// `ARGUS_DOCS_URL`, and `ARGUS_ISSUER` for this host).
    pub public_urls: PublicUrls,
    /// `ARGUS_DEPRECATIONS_FILE` (default the shipped matrix,
    /// `docs/deprecations.yaml`): checked at start-up.
    pub deprecations_file: Option<std::path::PathBuf>,
    /// `ARGUS_SECRET_PEPPER`: key of the keyed hash client secrets are stored as.
    pub secret_pepper: String,
    /// `ARGUS_KEY_SEALING_KEYS` (`id:secret[,id:secret…]`, default the
    /// development key): seal the private signing keys at rest.
    pub key_sealer: argus_crypto::KeySealer,
    /// `ARGUS_WEBHOOK_ALLOW_PRIVATE` (default false): let webhook URLs use
    /// plain http and private addresses (local work and tests).
    pub webhook_allow_private: bool,
    /// `ARGUS_TRUSTED_PROXIES` (default none): CIDRs (or addresses) of the
    /// proxies in front of the service. The client address for the
    /// per-address limits is the connection's peer, unless the peer is one
    /// of these; then the right-most `X-Forwarded-For` entry that is not.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `ARGUS_PASSWORD_CHECKS` (default 4): argon2id checks at once. Each
    /// holds 19 MiB while it runs; sized so they fit the pod's memory limit
    /// beside everything else (4 × 19 MiB of 384 MiB).
    pub password_checks: usize,
    /// OAuth lifetimes and limits.
    pub oauth: OAuthConfig,
    /// Limits on a tenant's webhooks.
    pub webhooks: WebhookLimits,
    /// `ARGUS_SHUTDOWN_DRAIN_SECONDS` (default 0) and
    /// `ARGUS_SHUTDOWN_TIMEOUT_SECONDS` (default 30): after SIGTERM, how long
    /// `/readyz` fails before the server stops accepting, then how long
    /// in-flight requests may take.
    pub shutdown: Shutdown,
    /// `ARGUS_MIGRATE` (default false): run migrations before serving.
    pub migrate: bool,
}

impl AuthConfig {
    pub fn from_environment() -> Result<Self, ConfigError> {
        let issuer = var_or("ARGUS_ISSUER", "http://127.0.0.1:8080");
        Ok(Self {
            listen_addr: var_or("ARGUS_AUTH_ADDR", "127.0.0.1:8080"),
            admin_addr: var_or("ARGUS_AUTH_ADMIN_ADDR", "127.0.0.1:9080"),
            store: StoreConfig::from_environment()?,
            deprecations_file: std::env::var_os("ARGUS_DEPRECATIONS_FILE").map(Into::into),
            public_urls: PublicUrls::from_environment(&issuer, "https://api.knogin.com")?,
            issuer,
            audience: live_audience()?,
            secret_pepper: var_or("ARGUS_SECRET_PEPPER", DEV_PEPPER),
            key_sealer: argus_crypto::KeySealer::from_setting(std::env::var("ARGUS_KEY_SEALING_KEYS").ok().as_deref())
                .map_err(|e| ConfigError { name: "ARGUS_KEY_SEALING_KEYS", reason: e.to_string() })?,
            webhook_allow_private: flag("ARGUS_WEBHOOK_ALLOW_PRIVATE", false)?,
            trusted_proxies: crate::client_address::parse_trusted_proxies(&var_or("ARGUS_TRUSTED_PROXIES", ""))
                .map_err(|reason| ConfigError { name: "ARGUS_TRUSTED_PROXIES", reason })?,
            password_checks: parse_var("ARGUS_PASSWORD_CHECKS", DEFAULT_PASSWORD_CHECKS)?,
            oauth: OAuthConfig::from_environment()?,
            webhooks: WebhookLimits::from_environment()?,
            shutdown: Shutdown::from_environment()?,
            migrate: flag("ARGUS_MIGRATE", false)?,
        })
    }

    /// An auth-service on free loopback ports over an already migrated
    /// database, as tests and tools start one in-process: the live
    /// audience, webhooks to private addresses allowed, no drain.
    pub fn local(database_url: &str, issuer: &str, secret_pepper: &str) -> Self {
        Self {
            listen_addr: "127.0.0.1:0".into(),
            admin_addr: "127.0.0.1:0".into(),
            store: StoreConfig { database_url: database_url.to_owned(), max_connections: 4 },
            issuer: issuer.to_owned(),
            public_urls: PublicUrls::new("https://api.knogin.com", issuer),
            deprecations_file: None,
            audience: LIVE_AUDIENCE.to_owned(),
            secret_pepper: secret_pepper.to_owned(),
            key_sealer: argus_crypto::KeySealer::development(),
            webhook_allow_private: true,
            trusted_proxies: Vec::new(),
            password_checks: DEFAULT_PASSWORD_CHECKS,
            oauth: OAuthConfig::default(),
            webhooks: WebhookLimits::default(),
            shutdown: Shutdown::default(),
            migrate: false,
        }
    }
}

/// `ARGUS_AUDIENCE`: the live audience. Never `sandbox`: sandbox tokens
/// get theirs from the sandbox-token route alone, with a sandbox key.
fn live_audience() -> Result<String, ConfigError> {
    let audience = var_or("ARGUS_AUDIENCE", LIVE_AUDIENCE);
    if audience == argus_types::claims::SANDBOX_AUDIENCE {
        let reason = "`sandbox` is the sandbox's audience, minted only with the sandbox key set; \
                      this names the live audience (default api.knogin.com)"
            .to_owned();
        return Err(ConfigError { name: "ARGUS_AUDIENCE", reason });
    }
    Ok(audience)
}

argus_types::env_settings! {
    /// Token lifetimes and abuse limits of the OAuth endpoints.
    #[derive(Debug, Clone)]
    pub struct OAuthConfig {
        /// `ARGUS_ACCESS_TOKEN_TTL` seconds (default 3600); an app's governance
        /// cap lowers it.
        pub access_token_ttl_seconds: u32 = 3600 => parse_var("ARGUS_ACCESS_TOKEN_TTL"),
        /// `ARGUS_REFRESH_TOKEN_TTL` seconds (default 30 days).
        pub refresh_token_ttl_seconds: u32 = 30 * 86_400 => parse_var("ARGUS_REFRESH_TOKEN_TTL"),
        /// `ARGUS_SESSION_TTL` seconds (default 8 hours): the sign-in cookie.
        pub session_ttl_seconds: u32 = 8 * 3600 => parse_var("ARGUS_SESSION_TTL"),
        /// `ARGUS_TOKEN_RATE_PER_CLIENT` requests per second to the token,
        /// revocation and introspection endpoints per client (default 200).
        pub token_rate_per_client: u32 = 200 => parse_var("ARGUS_TOKEN_RATE_PER_CLIENT"),
        /// `ARGUS_TOKEN_RATE_PER_IP` requests per second to those endpoints per
        /// source address (default 400).
        pub token_rate_per_ip: u32 = 400 => parse_var("ARGUS_TOKEN_RATE_PER_IP"),
        /// `ARGUS_SIGN_IN_RATE_PER_IP` sign-in attempts per minute per source
        /// address (default 20).
        pub sign_in_rate_per_ip_per_minute: u32 = 20 => parse_var("ARGUS_SIGN_IN_RATE_PER_IP"),
        /// `ARGUS_SIGN_IN_FREE_ATTEMPTS` (default 5): sign-ins to one account
        /// that may fail before it is locked for a while.
        pub sign_in_free_attempts: u32 = 5 => parse_var("ARGUS_SIGN_IN_FREE_ATTEMPTS"),
        /// `ARGUS_SIGN_IN_LOCKOUT_SECONDS` (default 1): the first lock-out once
        /// those are used up; each further attempt doubles it, up to 15 minutes.
        pub sign_in_lockout_seconds: u32 = 1 => parse_var("ARGUS_SIGN_IN_LOCKOUT_SECONDS"),
    }
}

argus_types::env_settings! {
    /// What one tenant may do with webhooks, so that no tenant takes more than
    /// its share of the delivery worker.
    #[derive(Debug, Clone)]
    pub struct WebhookLimits {
        /// `ARGUS_MAX_WEBHOOKS_PER_TENANT` (default 50): creating one more is a
        /// 409.
        pub max_per_tenant: usize = 50 => parse_var("ARGUS_MAX_WEBHOOKS_PER_TENANT"),
        /// `ARGUS_WEBHOOK_MANUAL_SENDS_PER_MINUTE` (default 30): test sends and
        /// resends per tenant per minute (a burst of as many); beyond, a 429
        /// with `Retry-After`.
        pub manual_sends_per_minute: u32 = 30 => parse_var("ARGUS_WEBHOOK_MANUAL_SENDS_PER_MINUTE"),
    }
}

/// What `auth-service --help` and `--version` say of the binary.
pub const BINARY: Binary = argus_http::binary!(
    "Argus auth-service: OAuth 2.0 tokens, JWKS, apps, governance and webhooks (auth.knogin.com)",
    ENVIRONMENT
);

/// The variables `auth-service --help` lists.
pub const ENVIRONMENT: &[&str] = &[OWN_ENVIRONMENT, DISCOVERY_ENVIRONMENT, argus_http::cli::SERVER_ENVIRONMENT];

/// This service's own variables.
const OWN_ENVIRONMENT: &str = "\
  ARGUS_AUTH_ADDR                listen address (default 127.0.0.1:8080)
  ARGUS_AUTH_ADMIN_ADDR          /metrics, /healthz and /readyz for operators (default 127.0.0.1:9080)
  ARGUS_ISSUER                   iss of every token: the public URL (default http://127.0.0.1:8080)
  ARGUS_AUDIENCE                 aud of live tokens (default api.knogin.com; never sandbox)
  ARGUS_KEY_SEALING_KEYS         id:secret[,...] sealing the signing keys (secret; a development key if unset)
  ARGUS_SECRET_PEPPER            keyed hash of stored secrets (secret; a development pepper if unset)
  ARGUS_TRUSTED_PROXIES          CIDRs of the proxies in front (default none)
  ARGUS_PASSWORD_CHECKS          argon2id checks at once (default 4)
  ARGUS_SIGN_IN_FREE_ATTEMPTS    failed sign-ins before a lock-out (default 5)
  ARGUS_SIGN_IN_LOCKOUT_SECONDS  first lock-out, doubling (default 1)
  ARGUS_SIGN_IN_RATE_PER_IP      sign-ins per address per minute (default 20)
  ARGUS_ACCESS_TOKEN_TTL         seconds (default 3600)
  ARGUS_REFRESH_TOKEN_TTL        seconds (default 2592000)
  ARGUS_SESSION_TTL              seconds (default 28800)
  ARGUS_TOKEN_RATE_PER_CLIENT    token requests per client per second (default 200)
  ARGUS_TOKEN_RATE_PER_IP        token requests per address per second (default 400)
  ARGUS_MAX_WEBHOOKS_PER_TENANT  (default 50)
  ARGUS_WEBHOOK_MANUAL_SENDS_PER_MINUTE  test sends and resends per tenant (default 30)
  ARGUS_WEBHOOK_ALLOW_PRIVATE    allow private webhook addresses (default false)";

#[cfg(test)]
mod help_tests {
    #[test]
    fn help_lists_every_variable_read() {
        argus_http::testing::assert_help_lists_every_variable(super::ENVIRONMENT, include_str!("config.rs"));
    }
}
