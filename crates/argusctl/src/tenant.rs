//! `argusctl tenant`: create and list tenants, and set their entitlements
//! and provenance signing algorithm.

use argus_store::{Store, StoreConfig};
use clap::{ArgGroup, Subcommand};
use serde_json::{Value, json};

use crate::{CtlError, DEFAULT_ADMIN_TOKEN_TTL, Issuer, admin_token, existing_tenant, token_ttl};

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its id and an admin access token.
    Create {
        /// A display name, 1 to 200 characters.
        #[arg(long)]
        name: String,
        /// Lifetime of the admin token, in seconds (60 to 86400).
        #[arg(long, default_value_t = DEFAULT_ADMIN_TOKEN_TTL)]
        ttl: u32,
    },
    /// List every tenant (id, name, created_at, partner).
    List,
    /// Set a tenant's entitlements: `--partner` makes it an approved
    /// partner, whose tokens may fetch the partner contract files
    /// (/partners/contract/v2026.4/…); `--no-partner` takes that back.
    #[command(group(ArgGroup::new("entitlement").required(true).args(["partner", "no_partner"])))]
    Entitle {
        /// The tenant's id (`ten_...`).
        #[arg(long)]
        tenant: String,
        /// Entitle the tenant as an approved partner.
        #[arg(long)]
        partner: bool,
        /// Withdraw the partner entitlement.
        #[arg(long)]
        no_partner: bool,
    },
    /// Choose how the tenant's evidence tree heads are signed from now on:
    /// `hmac-sha256` (the default; a shared secret, never published) or
    /// `ml-dsa-65` (FIPS 204, post-quantum; public keys published at
    /// /.well-known/provenance-keys/ml-dsa-65?tenant=...). A change
    /// retires the current key (heads it signed stay verifiable) and makes
    /// a new key of the algorithm current; choosing the current algorithm
    /// changes nothing.
    Provenance {
        /// The tenant's id (`ten_...`).
        #[arg(long)]
        tenant: String,
        /// `hmac-sha256` or `ml-dsa-65`.
        #[arg(long)]
        algorithm: argus_provenance::Algorithm,
    },
}

pub async fn run(command: TenantCommand, store_config: &StoreConfig, issuer: &Issuer) -> Result<Value, CtlError> {
    match command {
        TenantCommand::Create { name, ttl } => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 200 {
                return Err(CtlError::Input("--name must be 1 to 200 characters".into()));
            }
            let ttl = token_ttl(ttl)?;
            let store = Store::connect(store_config)?;
            let tenant = store.create_tenant(name).await?;
            let token = admin_token(&store, issuer, &tenant.id, ttl).await?;
            Ok(json!({
                "tenant_id": tenant.id,
                "name": tenant.name,
                "admin_token": token.token,
                "jti": token.claims.jti,
                "expires_at": token.expires_at,
            }))
        }
        TenantCommand::List => {
            let tenants = Store::connect(store_config)?.list_tenants().await?;
            let tenants: Vec<Value> = tenants
                .iter()
                .map(|t| json!({ "tenant_id": t.id, "name": t.name, "created_at": t.created_at, "partner": t.partner }))
                .collect();
            Ok(json!({ "tenants": tenants }))
        }
        TenantCommand::Entitle { tenant, partner, no_partner: _ } => {
            let store = Store::connect(store_config)?;
            let id = existing_tenant(&store, &tenant).await?;
            let tenant = store
                .set_partner_entitlement(&id, partner)
                .await?
                .ok_or_else(|| CtlError::Input(format!("no tenant `{id}`")))?;
            Ok(json!({ "tenant_id": tenant.id, "partner": tenant.partner }))
        }
        TenantCommand::Provenance { tenant, algorithm } => {
            let store = Store::connect(store_config)?;
            let tenant = existing_tenant(&store, &tenant).await?;
            let (current, changed) =
                store.set_provenance_algorithm(&tenant, algorithm, &crate::provenance::sealer()).await?;
            Ok(json!({ "tenant_id": tenant, "algorithm": algorithm.as_str(), "current": current, "changed": changed }))
        }
    }
}
