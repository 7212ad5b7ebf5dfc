//! The Rust SDK for Argus integrators.
//!
//! Two halves, usable apart:
//!
//! - **Calling Argus**: [`ArgusClient`] makes typed calls to both hosts, the
//!   auth-service (`auth.knogin.com`: apps, scopes, governance, OAuth
//!   tokens, service and sandbox tokens, webhooks and their deliveries) and
//!   the api-service (`api.knogin.com`: GraphQL persisted operations, async
//!   jobs, traces, ePCR, devices, evidence provenance, discovery). It mints
//!   and caches client-credentials tokens, retries 429 and 503 honouring
//!   `Retry-After`, and pages through lists as [`Stream`](futures_util::Stream)s.
//! - **Receiving from Argus**: [`JwtVerifier`] checks access tokens with only
//!   the public JWKS (refreshed on its `max-age` and on unknown `kid`s, so key
//!   rotations need no restart); [`WebhookVerifier`] checks Standard Webhooks
//!   signatures of deliveries and job callbacks (an actix-web and an axum
//!   extractor behind the features of those names); [`provenance`] verifies
//!   evidence transcripts offline.
//!
//! Every failure is one [`Error`]: a REST failure carries the server's
//! problem+json body ([`Error::Api`]), the token endpoint's OAuth error
//! ([`Error::OAuth`]), or GraphQL's error codes ([`Error::GraphQl`]).
//!
//! # The integration guide's flow
//!
//! **1. Register an app** with an admin's token
//! (`POST /v1/platform/apps`); its `client_secret` is shown once:
//!
//! ```no_run
//! # async fn run() -> argus_client::Result<()> {
//! use argus_client::{ArgusClient, GrantType, NewApp};
//!
//! let admin = ArgusClient::builder().build()?.with_bearer(std::env::var("ARGUS_ADMIN_TOKEN").unwrap_or_default());
//! let created = admin
//!     .create_app(&NewApp {
//!         name: "Case sync connector".into(),
//!         grant_types: vec![GrantType::ClientCredentials],
//!         redirect_uris: vec![],
//!         requested_scopes: vec!["webhooks:write".into()],
//!         client_type: None,
//!     })
//!     .await?;
//! let secret = created.client_secret.expect("confidential apps get a secret");
//! # Ok(()) }
//! ```
//!
//! **2. Review the approved scopes** with [`ArgusClient::scopes`] and
//! [`ArgusClient::app`] (its `approved_scopes`).
//!
//! **3. Choose the token flow.** Headless automation uses client
//! credentials, minted and renewed by the client itself:
//!
//! ```no_run
//! # async fn run(client_id: String, client_secret: String) -> argus_client::Result<()> {
//! use argus_client::{ArgusClient, Credentials};
//!
//! let app = ArgusClient::builder()
//!     .credentials(Credentials::ClientCredentials { client_id, client_secret, scope: Some("webhooks:write".into()) })
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! A user acting in the workflow goes through the authorization code flow
//! with PKCE: [`ArgusClient::authorize_url`] builds the URL to send the
//! browser to, [`ArgusClient::exchange_code`] trades the callback's code
//! for tokens, [`ArgusClient::refresh_token`] renews them.
//!
//! **4. Verify tokens and configure delivery.** A resource server verifies
//! the tokens it receives:
//!
//! ```no_run
//! # async fn run(token: &str) -> argus_client::Result<()> {
//! let verifier = argus_client::JwtVerifier::new(
//!     "https://auth.knogin.com/.well-known/jwks.json",
//!     "https://auth.knogin.com",
//!     argus_client::jwt::LIVE_AUDIENCE,
//! )?;
//! let claims = verifier.verify(token).await?;
//! assert!(claims.scopes().contains("webhooks:write"));
//! # Ok(()) }
//! ```
//!
//! and subscribes a receiver to events, checking each delivery:
//!
//! ```no_run
//! # async fn run(app: argus_client::ArgusClient, headers: &[(&str, &str)], body: &[u8]) -> argus_client::Result<()> {
//! use argus_client::{NewWebhook, WebhookVerifier};
//!
//! let hook = app
//!     .create_webhook(&NewWebhook {
//!         url: "https://integrator.example/webhooks/argus".into(),
//!         events: vec!["incident.updated".into()],
//!         ..NewWebhook::default()
//!     })
//!     .await?;
//! let verifier = WebhookVerifier::new(&hook.secret.expect("generated secrets are returned once"))?;
//! // In the receiver, for each request:
//! let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v);
//! let delivery = verifier.verify(header, body)?;
//! let event: argus_client::Event = delivery.json()?;
//! # Ok(()) }
//! ```
//!
//! GraphQL runs the operations of the bundles granted to the app
//! ([`ArgusClient::graphql`]), with the tenant as `X-Tenant-ID`
//! ([`ArgusClient::with_tenant`]).
//!
//! **5. Reviewed access** (curated bundles, the sandbox) uses the same
//! calls: [`ArgusClient::mint_sandbox_token`], and a client whose
//! `api_url` is [`SANDBOX_API_URL`].
//!
//! # Features
//!
//! - `rustls` (default): HTTPS through rustls. Without it only `http://`
//!   URLs to this machine work (plain http elsewhere is refused).
//! - `opentelemetry`: every call, and every fetch of the JWKS, carries
//!   `traceparent` from the caller's current `tracing` span (through
//!   `tracing-opentelemetry`).
//! - `actix-web`, `axum`: [`VerifiedWebhook`] as an extractor.
//!
//! The repository's `crates/argus-client/examples/` walk this flow
//! (`demo.rs`), run a webhook receiver (`webhook_receiver.rs`) and a job
//! with a callback (`job_callback.rs`).

#![deny(missing_docs)]

mod client;
mod error;
pub mod jwt;
pub mod provenance;
mod transport;
pub mod webhook;

pub use client::*;
pub use error::{Error, GraphQlError, OAuthError, Problem, Result};
pub use jwt::{AccessClaims, JwksPolicy, JwtVerifier};
pub use webhook::{Delivery, Event, VerifiedWebhook, WebhookVerifier};
