//! Integration apps: grant types, client types and governance flags.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    RefreshToken,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [Self::AuthorizationCode, Self::ClientCredentials, Self::RefreshToken];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
        }
    }
}

/// Text that names no grant type or client type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownType {
    kind: &'static str,
    value: String,
}

impl FromStr for GrantType {
    type Err = UnknownType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| UnknownType { kind: "grant type", value: s.to_owned() })
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 6749 §2.1: a confidential client holds a secret; a public one cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    #[default]
    Confidential,
    Public,
}

impl ClientType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }
}

impl FromStr for ClientType {
    type Err = UnknownType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "confidential" => Ok(Self::Confidential),
            "public" => Ok(Self::Public),
            _ => Err(UnknownType { kind: "client type", value: s.to_owned() }),
        }
    }
}

pub const DEFAULT_TOKEN_LIFETIME_SECONDS: u32 = 3600;
pub const MIN_TOKEN_LIFETIME_SECONDS: u32 = 60;
pub const MAX_TOKEN_LIFETIME_SECONDS: u32 = 86_400;

/// Tenant-approved behaviour of one app. Stored as JSON; every field has a
/// default, so older rows read as the defaults of newer flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Governance {
    /// Whether an admin may mint service tokens for this app.
    pub allow_service_tokens: bool,
    /// Require PKCE (S256) on every authorization request, confidential
    /// clients included. Public clients always need it.
    pub enforce_pkce: bool,
    /// Cap, in seconds, on the lifetime of any token issued to the app.
    #[schema(minimum = 60, maximum = 86400)]
    pub max_token_lifetime_seconds: u32,
    /// Narrows the approved scopes that tokens may carry; absent means all.
    pub allowed_scopes: Option<Vec<String>>,
    /// Narrows the registered redirect URIs that authorization may use;
    /// absent means all.
    pub allowed_redirect_uris: Option<Vec<String>>,
}

impl Default for Governance {
    fn default() -> Self {
        Self {
            allow_service_tokens: false,
            enforce_pkce: false,
            max_token_lifetime_seconds: DEFAULT_TOKEN_LIFETIME_SECONDS,
            allowed_scopes: None,
            allowed_redirect_uris: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GovernanceError {
    #[error("unknown governance flag `{0}`")]
    UnknownFlag(String),
    #[error("`{flag}` must be {expected}")]
    WrongType { flag: &'static str, expected: &'static str },
    #[error("`max_token_lifetime_seconds` must be between 60 and 86400")]
    LifetimeOutOfRange,
    #[error("`allowed_scopes` names scopes the app is not approved for: {0}")]
    ScopesNotApproved(String),
    #[error("`allowed_redirect_uris` names URIs the app has not registered: {0}")]
    RedirectsNotRegistered(String),
}

impl Governance {
    /// Applies a JSON merge patch (RFC 7396) of flags: a present key sets the
    /// flag, `null` resets it to its default, an unknown key or a wrong type
    /// refuses the whole patch. Scope and redirect subsets are checked against
    /// what the app has.
    pub fn merged(
        &self,
        patch: &Map<String, Value>,
        approved_scopes: &[String],
        redirect_uris: &[String],
    ) -> Result<Governance, GovernanceError> {
        let defaults = Governance::default();
        let mut next = self.clone();
        for (key, value) in patch {
            match key.as_str() {
                "allow_service_tokens" => {
                    next.allow_service_tokens = bool_flag("allow_service_tokens", value, defaults.allow_service_tokens)?
                }
                "enforce_pkce" => next.enforce_pkce = bool_flag("enforce_pkce", value, defaults.enforce_pkce)?,
                "max_token_lifetime_seconds" => {
                    next.max_token_lifetime_seconds = match value {
                        Value::Null => defaults.max_token_lifetime_seconds,
                        Value::Number(n) => n
                            .as_u64()
                            .and_then(|n| u32::try_from(n).ok())
                            .filter(|n| (MIN_TOKEN_LIFETIME_SECONDS..=MAX_TOKEN_LIFETIME_SECONDS).contains(n))
                            .ok_or(GovernanceError::LifetimeOutOfRange)?,
                        _ => {
                            return Err(GovernanceError::WrongType {
                                flag: "max_token_lifetime_seconds",
                                expected: "an integer number of seconds",
                            });
                        }
                    }
                }
                "allowed_scopes" => {
                    next.allowed_scopes = string_list("allowed_scopes", value)?;
                    not_in(&next.allowed_scopes, approved_scopes).map_err(GovernanceError::ScopesNotApproved)?;
                }
                "allowed_redirect_uris" => {
                    next.allowed_redirect_uris = string_list("allowed_redirect_uris", value)?;
                    not_in(&next.allowed_redirect_uris, redirect_uris)
                        .map_err(GovernanceError::RedirectsNotRegistered)?;
                }
                other => return Err(GovernanceError::UnknownFlag(other.to_owned())),
            }
        }
        Ok(next)
    }

    /// The scopes tokens for this app may carry: approved, narrowed by
    /// `allowed_scopes` when set.
    pub fn grantable_scopes<'a>(&'a self, approved: &'a [String]) -> impl Iterator<Item = &'a String> + 'a {
        approved.iter().filter(move |s| self.allowed_scopes.as_ref().is_none_or(|allowed| allowed.contains(s)))
    }
}

/// Refuses a subset list naming entries outside `of`, with those entries
/// joined by commas.
fn not_in(list: &Option<Vec<String>>, of: &[String]) -> Result<(), String> {
    let missing: Vec<&str> = list.iter().flatten().filter(|s| !of.contains(s)).map(String::as_str).collect();
    if missing.is_empty() { Ok(()) } else { Err(missing.join(", ")) }
}

fn bool_flag(flag: &'static str, value: &Value, default: bool) -> Result<bool, GovernanceError> {
    match value {
        Value::Null => Ok(default),
        Value::Bool(b) => Ok(*b),
        _ => Err(GovernanceError::WrongType { flag, expected: "a boolean" }),
    }
}

fn string_list(flag: &'static str, value: &Value) -> Result<Option<Vec<String>>, GovernanceError> {
    let wrong = || GovernanceError::WrongType { flag, expected: "an array of strings" };
    match value {
        Value::Null => Ok(None),
        Value::Array(items) => {
            let mut out: Vec<String> =
                items.iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(wrong)).collect::<Result<_, _>>()?;
            out.sort();
            out.dedup();
            Ok(Some(out))
        }
        _ => Err(wrong()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn merge_sets_resets_and_refuses() {
        let approved = vec!["webhooks:read".to_owned(), "webhooks:write".to_owned()];
        let g = Governance::default()
            .merged(&patch(json!({"allow_service_tokens": true, "allowed_scopes": ["webhooks:read"]})), &approved, &[])
            .unwrap();
        assert!(g.allow_service_tokens);
        assert_eq!(g.grantable_scopes(&approved).collect::<Vec<_>>(), vec!["webhooks:read"]);
        let reset = g.merged(&patch(json!({"allow_service_tokens": null})), &approved, &[]).unwrap();
        assert!(!reset.allow_service_tokens);
        assert_eq!(
            g.merged(&patch(json!({"bogus": true})), &approved, &[]),
            Err(GovernanceError::UnknownFlag("bogus".into()))
        );
        assert!(matches!(
            g.merged(&patch(json!({"enforce_pkce": "yes"})), &approved, &[]),
            Err(GovernanceError::WrongType { .. })
        ));
        assert_eq!(
            g.merged(&patch(json!({"max_token_lifetime_seconds": 10})), &approved, &[]),
            Err(GovernanceError::LifetimeOutOfRange)
        );
        assert!(matches!(
            g.merged(&patch(json!({"allowed_scopes": ["jobs:write"]})), &approved, &[]),
            Err(GovernanceError::ScopesNotApproved(_))
        ));
    }
}
