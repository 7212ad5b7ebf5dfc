//! Access tokens for tests (feature `testing`), minted directly rather than
//! through an auth-service.

#![allow(clippy::expect_used)]

use argus_types::{ScopeSet, TenantId};

use crate::{SigningKey, TokenGrant, issue_access_token};

/// A token from `issuer` for `audience`, signed with `key`, as a
/// client-credentials grant gives `client_id` of `tenant` (the client is its
/// own subject) with `scopes`; an hour's lifetime.
pub fn access_token(
    key: &SigningKey,
    issuer: &str,
    audience: &str,
    tenant: &TenantId,
    client_id: &str,
    scopes: &[&str],
) -> String {
    let scopes: ScopeSet = scopes.iter().copied().collect();
    let grant = TokenGrant {
        issuer,
        audience,
        tenant,
        subject: client_id,
        client_id,
        scopes: &scopes,
        lifetime: chrono::Duration::hours(1),
    };
    issue_access_token(key, &grant).expect("a test token").token
}
