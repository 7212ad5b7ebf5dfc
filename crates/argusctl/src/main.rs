//! argusctl: the operator's command line. Every command prints JSON on
//! success and one line on stderr with a non-zero exit on failure.

mod dlq;
mod provenance;
mod tenant;

use std::process::ExitCode;
use std::str::FromStr;

use argus_crypto::KeySealer;
use argus_store::keys::SigningKeyInfo;
use argus_store::{Store, StoreConfig, StoreError};
use argus_types::app::MAX_TOKEN_LIFETIME_SECONDS;
use argus_types::claims::LIVE_AUDIENCE;
use argus_types::env::ConfigError;
use argus_types::scopes::{ADMIN_CLIENT_ID, PLATFORM_ADMIN};
use argus_types::{Environment, ScopeSet, TenantId};
use chrono::Duration;
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

/// Retired keys stay published this long past the longest token lifetime,
/// to cover verifiers' clock skew.
const RETIRED_KEY_GRACE_SECONDS: i64 = 300;
pub(crate) const DEFAULT_ADMIN_TOKEN_TTL: u32 = 3600;
const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Parser)]
#[command(name = "argusctl", version, about = "Operate an Argus installation")]
struct Cli {
    /// PostgreSQL URL.
    #[arg(long, env = "ARGUS_DATABASE_URL", default_value = "postgres://postgres@127.0.0.1:5432/argus", global = true)]
    database_url: String,
    /// The `iss` of admin tokens: the auth-service's public URL, as it is
    /// configured there.
    #[arg(long, env = "ARGUS_ISSUER", default_value = "http://127.0.0.1:8080", global = true)]
    issuer: String,
    /// The `aud` of admin tokens, as the auth-service is configured (the
    /// live audience; never `sandbox`).
    #[arg(long, env = "ARGUS_AUDIENCE", default_value = LIVE_AUDIENCE, global = true)]
    audience: String,
    /// The environment the database belongs to: `argusctl migrate` claims
    /// an unclaimed database for it, and refuses one of the other
    /// environment. `sandbox` for the sandbox's database.
    #[arg(long, env = "ARGUS_ENV", default_value = "live", global = true)]
    env: Environment,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations (under an advisory lock), claim
    /// the database for ARGUS_ENV (a database says which environment it
    /// belongs to, and every service checks that at start), make sure
    /// signing keys exist and seal any key not yet sealed under the first
    /// of ARGUS_KEY_SEALING_KEYS.
    Migrate {
        /// Only show which migrations are applied and which are pending;
        /// change nothing.
        #[arg(long)]
        status: bool,
    },
    /// Tenants and their entitlements.
    Tenant {
        #[command(subcommand)]
        command: tenant::TenantCommand,
    },
    /// Admin access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Users who sign in at the authorization endpoint.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Token-signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Curated GraphQL operation bundles.
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
    /// ePCR encounters (health records): who read them.
    Encounter {
        #[command(subcommand)]
        command: EncounterCommand,
    },
    /// Evidence provenance: the tenant's keys that sign transcripts' tree heads.
    Provenance {
        #[command(subcommand)]
        command: provenance::ProvenanceCommand,
    },
    /// Print a shell completion script: `argusctl completions bash >
    /// /etc/bash_completion.d/argusctl`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// The dead-letter queue: messages the workers gave up on.
    Dlq {
        #[command(flatten)]
        bus: dlq::BusArgs,
        #[command(subcommand)]
        command: dlq::DlqCommand,
    },
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Load (or replace) a bundle from a `.graphql` file of named operations;
    /// the bundle's name is the file stem.
    Load { file: std::path::PathBuf },
    /// Let an app of a tenant run a bundle's operations.
    Grant(BundleGrant),
    /// Take a bundle away from an app: its operations are refused within
    /// 5 seconds on every api-service (their approval cache).
    Revoke(BundleGrant),
    /// List bundles with their operations' ids and grants.
    List,
}

#[derive(Subcommand)]
enum EncounterCommand {
    /// A record's access log, oldest first: every read of it (the token's
    /// subject and app, the route, the trace id, when). Reads of records
    /// the tenant does not have are not reads, and are not logged.
    AccessLog {
        /// The tenant's id (`ten_...`).
        #[arg(long)]
        tenant: String,
        /// The record's id (`enc_...`).
        #[arg(long)]
        encounter: String,
        /// At most this many entries, 1 to 10000.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
}

/// Which app of which tenant, and which bundle.
#[derive(Args)]
struct BundleGrant {
    /// The tenant's id (`ten_...`).
    #[arg(long)]
    tenant: String,
    /// The app's client_id (`app_...`).
    #[arg(long)]
    app: String,
    /// The bundle's name (its file stem).
    #[arg(long)]
    bundle: String,
}

impl BundleGrant {
    /// The tenant, which must exist, and the app's client id.
    async fn parties(&self, store: &Store) -> Result<(TenantId, argus_types::ClientId), CtlError> {
        let tenant = existing_tenant(store, &self.tenant).await?;
        let app = &self.app;
        let client =
            argus_types::ClientId::from_str(app).map_err(|e| CtlError::Input(format!("--app `{app}`: {e}")))?;
        Ok((tenant, client))
    }
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Mint a `platform:admin` token for an existing tenant.
    Admin {
        /// The tenant's id (`ten_...`).
        #[arg(long)]
        tenant: String,
        /// Lifetime in seconds (60 to 86400).
        #[arg(long, default_value_t = DEFAULT_ADMIN_TOKEN_TTL)]
        ttl: u32,
    },
    /// Revoke an access token by its `jti` (printed when an admin token is
    /// minted): every auth-service and api-service replica refuses it
    /// within a second.
    Revoke {
        /// The token's `jti` claim.
        jti: String,
        /// Whose token it is: `live`, or `sandbox` (a sandbox token: then
        /// the sandbox API, which polls the auth-service's published list,
        /// refuses it too).
        #[arg(long, default_value = "live")]
        environment: Environment,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user who can sign in at /v1/oauth/authorize.
    Create {
        /// The tenant's id (`ten_...`).
        #[arg(long)]
        tenant: String,
        /// Their sign-in email (stored lowercase).
        #[arg(long)]
        email: String,
        /// At least 8 characters. Prefer ARGUS_USER_PASSWORD to keep it out
        /// of shell history.
        #[arg(long, env = "ARGUS_USER_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// List a tenant's users (id, email, created_at, disabled_at).
    List {
        /// The tenant's id (`ten_...`).
        #[arg(long)]
        tenant: String,
    },
    /// Disable a user: they can no longer sign in, their sessions end and
    /// every grant they gave apps is revoked (refresh and access tokens).
    Disable {
        /// The tenant's id (`ten_...`).
        #[arg(long)]
        tenant: String,
        /// The user's id (`usr_...`).
        #[arg(long)]
        user: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Retire the current key of a key set, promote its next one, create a
    /// new next key; the other set is untouched.
    Rotate {
        /// `live` (tokens for api.knogin.com, published at
        /// /.well-known/jwks.json) or `sandbox` (sandbox tokens, published at
        /// /.well-known/sandbox/jwks.json).
        #[arg(long, default_value = "live")]
        key_set: Environment,
    },
    /// List every key of both sets with its set and state (never the
    /// private key).
    List,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CtlError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("cannot reach the database: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Store(StoreError),
    #[error("{0}")]
    Crypto(#[from] argus_crypto::CryptoError),
    #[error("{0}")]
    Bus(#[from] argus_bus::BusError),
    /// A transcript that did not verify: the verification, printed.
    #[error("the transcript does not verify")]
    Unverified(Value),
}

impl From<StoreError> for CtlError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Pool(m) => Self::Unreachable(m),
            StoreError::Migration(m) if m.starts_with("cannot connect") => Self::Unreachable(m),
            StoreError::Conflict(m) => Self::Input(m),
            StoreError::NotFound(m) => Self::Input(format!("no {m}")),
            other => Self::Store(other),
        }
    }
}

/// `ARGUS_KEY_SEALING_KEYS`, as the auth-service reads it: the signing
/// keys' private halves are sealed with it.
fn key_sealer() -> Result<KeySealer, CtlError> {
    KeySealer::from_setting(std::env::var("ARGUS_KEY_SEALING_KEYS").ok().as_deref())
        .map_err(|e| CtlError::Config(ConfigError { name: "ARGUS_KEY_SEALING_KEYS", reason: e.to_string() }))
}

/// Token settings shared with the auth-service, from the same variables.
pub(crate) struct Issuer {
    issuer: String,
    audience: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(Value::Null) => ExitCode::SUCCESS,
        Ok(output) => {
            #[allow(clippy::print_stdout)]
            {
                println!("{}", serde_json::to_string_pretty(&output).unwrap_or_else(|_| output.to_string()));
            }
            ExitCode::SUCCESS
        }
        Err(CtlError::Unverified(verification)) => {
            #[allow(clippy::print_stdout)]
            {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&verification).unwrap_or_else(|_| verification.to_string())
                );
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("argusctl: {}", e.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<Value, CtlError> {
    let store_config = StoreConfig { database_url: cli.database_url.clone(), max_connections: 2 };
    if cli.audience == argus_types::claims::SANDBOX_AUDIENCE {
        return Err(CtlError::Input(
            "ARGUS_AUDIENCE (--audience) names the live audience; sandbox tokens come from the sandbox-token route"
                .into(),
        ));
    }
    let issuer = Issuer { issuer: cli.issuer, audience: cli.audience };
    match cli.command {
        Command::Migrate { status: true } => {
            let status = argus_store::migration_status(&cli.database_url).await?;
            Ok(json!({ "applied": status.applied, "pending": status.pending }))
        }
        Command::Migrate { status: false } => {
            let sealer = key_sealer()?;
            let applied = argus_store::run_migrations(&cli.database_url).await?;
            let store = Store::connect(&store_config)?;
            store.claim_environment(cli.env).await?;
            store.ensure_signing_keys(&sealer).await?;
            Ok(json!({ "applied": applied, "environment": cli.env }))
        }
        Command::Tenant { command } => tenant::run(command, &store_config, &issuer).await,
        Command::Token { command: TokenCommand::Admin { tenant, ttl } } => {
            let ttl = token_ttl(ttl)?;
            let store = Store::connect(&store_config)?;
            let tenant = existing_tenant(&store, &tenant).await?;
            let token = admin_token(&store, &issuer, &tenant, ttl).await?;
            Ok(json!({
                "tenant_id": tenant,
                "admin_token": token.token,
                "jti": token.claims.jti,
                "expires_at": token.expires_at,
            }))
        }
        Command::Token { command: TokenCommand::Revoke { jti, environment } } => {
            let jti = jti.trim();
            if jti.is_empty() || jti.len() > 128 || !jti.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(CtlError::Input("the jti must be 1 to 128 printable ASCII characters".into()));
            }
            // The token's own expiry is not known here: keep the entry for as
            // long as any token can live, then it is pruned.
            let until = chrono::Utc::now() + Duration::seconds(i64::from(MAX_TOKEN_LIFETIME_SECONDS) + 60);
            Store::connect(&store_config)?.revoke_access_token(jti, until, environment).await?;
            Ok(json!({ "revoked": jti, "until": until, "environment": environment }))
        }
        Command::User { command: UserCommand::Create { tenant, email, password } } => {
            let email = email.trim().to_ascii_lowercase();
            if !email_address::EmailAddress::is_valid(&email) {
                return Err(CtlError::Input(format!("--email `{email}` is not an email address")));
            }
            if password.chars().count() < MIN_PASSWORD_CHARS {
                return Err(CtlError::Input(format!("--password must be at least {MIN_PASSWORD_CHARS} characters")));
            }
            let store = Store::connect(&store_config)?;
            let tenant = existing_tenant(&store, &tenant).await?;
            let hash = tokio::task::spawn_blocking(move || argus_crypto::hash_password(&password))
                .await
                .map_err(|e| CtlError::Input(e.to_string()))??;
            let user = store.create_user(&tenant, &email, &hash).await?;
            Ok(json!({ "user_id": user.id, "tenant_id": user.tenant_id, "email": user.email }))
        }
        Command::User { command: UserCommand::List { tenant } } => {
            let store = Store::connect(&store_config)?;
            let tenant = existing_tenant(&store, &tenant).await?;
            let users: Vec<Value> = store
                .list_users(&tenant)
                .await?
                .iter()
                .map(|u| {
                    json!({ "user_id": u.id, "email": u.email, "created_at": u.created_at, "disabled_at": u.disabled_at })
                })
                .collect();
            Ok(json!({ "tenant_id": tenant, "users": users }))
        }
        Command::User { command: UserCommand::Disable { tenant, user } } => {
            let store = Store::connect(&store_config)?;
            let tenant = existing_tenant(&store, &tenant).await?;
            let id =
                argus_types::UserId::from_str(&user).map_err(|e| CtlError::Input(format!("--user `{user}`: {e}")))?;
            let disabled = store
                .disable_user(&tenant, &id)
                .await?
                .ok_or_else(|| CtlError::Input(format!("no user `{user}` in tenant {tenant}")))?;
            Ok(json!({
                "user_id": id,
                "disabled_at": disabled.disabled_at,
                "sessions_ended": disabled.sessions_ended,
                "grants_revoked": disabled.grants_revoked,
                "access_tokens_revoked": disabled.revoked.len(),
            }))
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "argusctl", &mut script);
            // Printed as is (not JSON): it is meant to be piped to a file.
            #[allow(clippy::print_stdout)]
            {
                print!("{}", String::from_utf8_lossy(&script));
            }
            Ok(Value::Null)
        }
        Command::Keys { command: KeysCommand::Rotate { key_set } } => {
            let store = Store::connect(&store_config)?;
            let publish_for = Duration::seconds(i64::from(MAX_TOKEN_LIFETIME_SECONDS) + RETIRED_KEY_GRACE_SECONDS);
            let rotation = store.rotate_signing_keys(&key_sealer()?, key_set, publish_for).await?;
            Ok(json!({
                "key_set": key_set,
                "retired": rotation.retired,
                "current": rotation.current,
                "next": rotation.next,
            }))
        }
        Command::Keys { command: KeysCommand::List } => {
            let store = Store::connect(&store_config)?;
            let keys: Vec<Value> = store.list_signing_keys().await?.iter().map(key_json).collect();
            Ok(json!({ "keys": keys }))
        }
        Command::Bundle { command } => bundle(command, &store_config).await,
        Command::Encounter { command: EncounterCommand::AccessLog { tenant, encounter, limit } } => {
            if !(1..=10_000).contains(&limit) {
                return Err(CtlError::Input("--limit must be between 1 and 10000".into()));
            }
            let store = Store::connect(&store_config)?;
            let tenant = existing_tenant(&store, &tenant).await?;
            let id = argus_types::EncounterId::from_str(&encounter)
                .map_err(|e| CtlError::Input(format!("--encounter `{encounter}`: {e}")))?;
            let entries = store.encounter_access_log(&tenant, &id, i64::from(limit)).await?;
            Ok(json!({ "tenant_id": tenant, "encounter_id": id, "entries": entries }))
        }
        Command::Provenance { command } => provenance::run(command, &store_config).await,
        Command::Dlq { bus, command } => dlq::run(bus, command).await,
    }
}

async fn bundle(command: BundleCommand, store_config: &StoreConfig) -> Result<Value, CtlError> {
    match command {
        BundleCommand::Load { file } => {
            let name = file
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| {
                    s.len() <= 128
                        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
                })
                .ok_or_else(|| {
                    CtlError::Input(format!("{}: the file stem must be a lowercase bundle name", file.display()))
                })?
                .to_owned();
            let source = std::fs::read_to_string(&file)
                .map_err(|e| CtlError::Input(format!("cannot read {}: {e}", file.display())))?;
            let operations = argus_store::bundles::parse_bundle_file(&source)
                .map_err(|e| CtlError::Input(format!("{}: {e}", file.display())))?;
            Store::connect(store_config)?.load_bundle(&name, &operations).await?;
            let ops: Vec<Value> = operations
                .iter()
                .map(|o| json!({ "operation": o.name, "id": format!("sha256:{}", o.sha256) }))
                .collect();
            Ok(json!({ "bundle": name, "operations": ops }))
        }
        BundleCommand::Grant(grant) => {
            let store = Store::connect(store_config)?;
            let (tenant, client) = grant.parties(&store).await?;
            let bundle = grant.bundle;
            store.grant_bundle(&tenant, &client, &bundle).await?;
            Ok(json!({ "tenant_id": tenant, "client_id": client, "bundle": bundle }))
        }
        BundleCommand::Revoke(grant) => {
            let store = Store::connect(store_config)?;
            let (tenant, client) = grant.parties(&store).await?;
            let bundle = grant.bundle;
            if !store.revoke_bundle_grant(&tenant, &client, &bundle).await? {
                return Err(CtlError::Input(format!(
                    "app {client} of tenant {tenant} does not have bundle `{bundle}`"
                )));
            }
            Ok(json!({ "tenant_id": tenant, "client_id": client, "bundle": bundle, "revoked": true }))
        }
        BundleCommand::List => {
            let bundles = Store::connect(store_config)?.list_bundles().await?;
            let bundles: Vec<Value> = bundles
                .iter()
                .map(|b| {
                    json!({
                        "name": b.name,
                        "updated_at": b.updated_at,
                        "operations": b.documents.iter()
                            .map(|d| json!({ "operation": d.operation_name, "id": format!("sha256:{}", d.sha256) }))
                            .collect::<Vec<_>>(),
                        "grants": b.grants.iter()
                            .map(|g| json!({ "tenant_id": g.tenant_id, "client_id": g.client_id }))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect();
            Ok(json!({ "bundles": bundles }))
        }
    }
}

pub(crate) fn token_ttl(ttl: u32) -> Result<Duration, CtlError> {
    if !(60..=MAX_TOKEN_LIFETIME_SECONDS).contains(&ttl) {
        return Err(CtlError::Input(format!("--ttl must be between 60 and {MAX_TOKEN_LIFETIME_SECONDS} seconds")));
    }
    Ok(Duration::seconds(i64::from(ttl)))
}

pub(crate) async fn existing_tenant(store: &Store, raw: &str) -> Result<TenantId, CtlError> {
    let id = TenantId::from_str(raw).map_err(|e| CtlError::Input(format!("--tenant `{raw}`: {e}")))?;
    store.get_tenant(&id).await?.ok_or_else(|| CtlError::Input(format!("no tenant `{raw}`")))?;
    Ok(id)
}

pub(crate) async fn admin_token(
    store: &Store,
    issuer: &Issuer,
    tenant: &TenantId,
    lifetime: Duration,
) -> Result<argus_crypto::IssuedToken, CtlError> {
    let sealer = key_sealer()?;
    store.ensure_signing_keys(&sealer).await?;
    let key = store
        .current_signing_key(&sealer, Environment::Live)
        .await?
        .ok_or_else(|| CtlError::Input("no current signing key; run `argusctl migrate`".into()))?;
    let scopes: ScopeSet = [PLATFORM_ADMIN].into_iter().collect();
    let subject = format!("admin:{tenant}");
    Ok(argus_crypto::issue_access_token(
        &key,
        &argus_crypto::TokenGrant {
            issuer: &issuer.issuer,
            audience: &issuer.audience,
            tenant,
            subject: &subject,
            client_id: ADMIN_CLIENT_ID,
            scopes: &scopes,
            lifetime,
        },
    )?)
}

fn key_json(k: &SigningKeyInfo) -> Value {
    json!({
        "kid": k.kid,
        "key_set": k.key_set,
        "state": k.state.as_str(),
        "sealing_key_id": k.sealing_key_id,
        "created_at": k.created_at,
        "activated_at": k.activated_at,
        "retired_at": k.retired_at,
        "published_until": k.publish_until,
    })
}
