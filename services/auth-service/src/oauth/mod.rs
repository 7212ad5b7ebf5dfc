//! OAuth 2.0 as a library the endpoints call: RFC 6749 errors, form
//! parameters, client authentication, PKCE, token issuing, the grants,
//! revocation and introspection, the authorization request, and sign-in.
//! The handlers in `routes` only read requests and write answers.

pub mod authorization;
pub mod client;
pub mod client_cache;
pub mod error;
pub mod grants;
pub mod issue;
pub mod params;
pub mod password;
pub mod pkce;
pub mod revocation;
pub mod sign_in;

pub use client::{AuthenticatedClient, authenticate_client};
pub use client_cache::ClientCache;
pub use error::{OAuthError, OAuthErrorCode};
pub use issue::TokenIssuer;
pub use params::Params;
pub use password::PasswordChecks;
