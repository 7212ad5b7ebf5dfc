//! Form and query parameters as RFC 6749 §3.1/§3.2 want them read: each at
//! most once, an empty value the same as an absent one.

use std::collections::HashMap;

use crate::oauth::OAuthError;

#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text; a repeated
    /// parameter is an error naming it.
    pub fn parse(encoded: &[u8]) -> Result<Self, String> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(encoded) {
            if map.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(format!("parameter `{k}` is repeated"));
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The parameter `name`; its absence is an `invalid_request`.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("`{name}` is required")))
    }
}
