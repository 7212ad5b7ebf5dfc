//! OAuth 2.0 machinery shared by the endpoints: RFC 6749 errors, form
//! parameters, client authentication, PKCE, and token issuing.

pub mod client;
pub mod client_cache;
pub mod error;
pub mod issue;
pub mod params;
pub mod password;
pub mod pkce;

pub use client::{AuthenticatedClient, authenticate_client};
pub use client_cache::ClientCache;
pub use error::{OAuthError, OAuthErrorCode};
pub use issue::TokenIssuer;
pub use params::Params;
pub use password::PasswordChecks;
