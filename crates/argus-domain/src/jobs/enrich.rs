//! `intelligence.enrich.bulk`'s input, parsed and checked (the enrichment
//! runs in `argus-analytics`).

use serde::Deserialize;
use serde_json::Value;

use super::{check_kinds_filter, check_list_len, check_range, parse_input};
use crate::DomainError;

/// Largest cap on each suggestion list.
pub const MAX_SUGGESTIONS: usize = 100_000;
/// Most entity ids in one job.
pub const MAX_ENTITY_IDS: usize = 100_000;

/// The regions phone numbers can be read in: libphonenumber's (the
/// `phonenumber` crate's `country::Id`), which `argus-analytics` checks
/// this list against, so the API need not link it to check an input.
pub const PHONE_REGIONS: &[&str] = &[
    "AC", "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD",
    "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BW", "BY", "BZ", "CA", "CC",
    "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ",
    "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB",
    "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GT", "GU", "GW", "GY", "HK", "HN", "HR",
    "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH",
    "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY",
    "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV",
    "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE",
    "PF", "PG", "PH", "PK", "PL", "PM", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB",
    "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ",
    "TA", "TC", "TD", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "US",
    "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "XK", "YE", "YT", "ZA", "ZM", "ZW",
];

/// `code` as a region of [`PHONE_REGIONS`] (trimmed, any case), or `None`.
pub fn phone_region(code: &str) -> Option<&'static str> {
    let code = code.trim();
    if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let upper = code.to_ascii_uppercase();
    PHONE_REGIONS.iter().copied().find(|r| *r == upper)
}

/// The job input for kind `intelligence.enrich.bulk`.
///
/// ```json
/// {
///   "entity_ids": ["ent_01", "ent_02"],
///   "entity_kinds": ["person", "location"],
///   "default_region": "GB",
///   "min_score": 0.75,
///   "min_link_score": 0.5,
///   "max_suggestions": 1000
/// }
/// ```
///
/// Every field is optional. `entity_ids` and `entity_kinds` say which entities the caller loads (absent: all
/// of the tenant's); `default_region` is an ISO 3166-1 alpha-2 code (default `argus_analytics::enrich::DEFAULT_REGION`); `min_score`
/// and `min_link_score` in 0..=1 drop weaker duplicate and link suggestions; `max_suggestions` (1..=100000,
/// default 1000) caps each list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichInput {
    pub entity_ids: Option<Vec<String>>,
    pub entity_kinds: Option<Vec<String>>,
    pub default_region: Option<String>,
    pub min_score: Option<f64>,
    pub min_link_score: Option<f64>,
    pub max_suggestions: Option<usize>,
}

impl EnrichInput {
    /// Parses and validates the job input.
    pub fn from_json(value: Value) -> Result<Self, DomainError> {
        parse_input(value, Self::validate)
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        if let Some(ids) = &self.entity_ids {
            let empty = "must not be empty (omit it to enrich every entity)";
            check_list_len("entity_ids", ids, MAX_ENTITY_IDS, "ids", empty)?;
            if let Some(i) = ids.iter().position(|id| id.trim().is_empty()) {
                return Err(DomainError::invalid(format!("entity_ids[{i}]"), "must not be empty"));
            }
        }
        check_kinds_filter("entity_kinds", self.entity_kinds())?;
        if let Some(region) = &self.default_region
            && phone_region(region).is_none()
        {
            return Err(DomainError::invalid(
                "default_region",
                format!("must be an ISO 3166-1 alpha-2 region code such as \"GB\" or \"US\", got {region:?}"),
            ));
        }
        check_range("min_score", self.min_score, 0.0..=1.0)?;
        check_range("min_link_score", self.min_link_score, 0.0..=1.0)?;
        check_range("max_suggestions", self.max_suggestions, 1..=MAX_SUGGESTIONS)
    }

    /// The entities to load (`None`: all, subject to [`EnrichInput::entity_kinds`]).
    pub fn entity_ids(&self) -> Option<&[String]> {
        self.entity_ids.as_deref()
    }

    /// The kinds to load (`None`: all).
    pub fn entity_kinds(&self) -> Option<&[String]> {
        self.entity_kinds.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_read_in_any_case() {
        assert_eq!(phone_region(" gb "), Some("GB"));
        assert_eq!(phone_region("ZZ"), None);
        assert_eq!(phone_region("GBR"), None);
        assert!(EnrichInput::from_json(serde_json::json!({"default_region": "xx"})).is_err());
        assert!(EnrichInput::from_json(serde_json::json!({"default_region": "us"})).is_ok());
    }
}
