//! The scope catalog: every scope an app may request, covering the whole
//! contract (2026.4), with read and write kept apart where both exist.

use std::collections::BTreeSet;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub name: &'static str,
    pub description: &'static str,
}

/// The tenant admin's scope: register and govern apps, rotate their secrets,
/// mint service tokens. Not in the catalog: no app can request or hold it,
/// and only tokens minted by `argusctl` (client [`ADMIN_CLIENT_ID`]) carry
/// it.
pub const PLATFORM_ADMIN: &str = "platform:admin";

/// The `client_id` of admin tokens, which `argusctl` mints. App ids start
/// with `app_`, so no app can take it.
pub const ADMIN_CLIENT_ID: &str = "argusctl";

/// Every scope an app may request.
pub const SCOPE_CATALOG: &[Scope] = &[
    Scope { name: "webhooks:read", description: "Read outbound webhook subscriptions and their delivery history" },
    Scope { name: "webhooks:write", description: "Create and update outbound webhook subscriptions" },
    Scope { name: "incidents:read", description: "Read incidents through the GraphQL transport" },
    Scope { name: "incidents:write", description: "Create, update and close incidents through the GraphQL transport" },
    Scope { name: "cases:read", description: "Read cases and their linked incidents" },
    Scope { name: "cases:write", description: "Create, update and close cases and link incidents to them" },
    Scope {
        name: "entities:read",
        description: "Read entities (people, organisations, vehicles, locations) and their relationships",
    },
    Scope { name: "entities:write", description: "Create entities and link them to each other" },
    Scope { name: "jobs:read", description: "Read async job status and results" },
    Scope { name: "jobs:write", description: "Enqueue and cancel async jobs" },
    Scope { name: "epcr:read", description: "Read ePCR encounters and export them as FHIR R4 bundles" },
    Scope { name: "epcr:write", description: "Create ePCR encounters" },
    Scope { name: "devices:read", description: "List enrolled medical devices" },
    Scope { name: "devices:write", description: "Enrol medical devices and submit their observations" },
    Scope { name: "metrics:read", description: "Query ACQI reporting metrics" },
    Scope { name: "evidence:read", description: "Read evidence items and their provenance transcripts" },
    Scope {
        name: "evidence:write",
        description: "Create evidence items and record operations on them (view, annotate, transfer, export, seal)",
    },
    Scope { name: "evidence:verify", description: "Verify evidence provenance transcripts server-side" },
    Scope { name: "traces:read", description: "Look up recorded traces of the tenant's requests" },
    Scope { name: "schemas:read", description: "List the data schemas visible to the caller" },
];

pub fn catalog_entry(name: &str) -> Option<&'static Scope> {
    SCOPE_CATALOG.iter().find(|s| s.name == name)
}

/// Read scopes no write scope implies: health records (ePCR) are read only
/// with their own scope, since every read is logged as a disclosure and a
/// writer (an ambulance's tablet) has no need to read other records.
const READ_ONLY_BY_ITSELF: &[&str] = &["epcr:read"];

/// The scope that implies `scope`, if any: a resource's write scope
/// implies its read scope (`jobs:write` grants `jobs:read`) wherever the
/// catalog has both, except [`READ_ONLY_BY_ITSELF`]. The one statement of
/// that rule.
pub fn implied_by(scope: &str) -> Option<&'static str> {
    if READ_ONLY_BY_ITSELF.contains(&scope) {
        return None;
    }
    let resource = scope.strip_suffix(":read")?;
    SCOPE_CATALOG.iter().map(|s| s.name).find(|name| name.strip_suffix(":write") == Some(resource))
}

/// A set of scope names, kept sorted so its string form is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// Parses the RFC 6749 §3.3 form: scope tokens separated by single spaces.
    pub fn from_space_separated(s: &str) -> Self {
        Self(s.split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect())
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The names in this set that the catalog does not know, sorted.
    pub fn unknown(&self) -> Vec<String> {
        self.0.iter().filter(|s| catalog_entry(s).is_none()).cloned().collect()
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0.into_iter().collect()
    }
}

impl<S: Into<String>> FromIterator<S> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self(iter.into_iter().map(Into::into).collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_names_are_unique_and_well_formed() {
        let names: BTreeSet<_> = SCOPE_CATALOG.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), SCOPE_CATALOG.len());
        // RFC 6749 scope-token: %x21 / %x23-5B / %x5D-7E
        for n in names {
            assert!(n.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)), "{n}");
        }
    }

    #[test]
    fn write_implies_read_and_nothing_else() {
        assert_eq!(implied_by("jobs:read"), Some("jobs:write"));
        assert_eq!(implied_by("incidents:read"), Some("incidents:write"));
        assert_eq!(implied_by("jobs:write"), None);
        assert_eq!(implied_by("metrics:read"), None);
        assert_eq!(implied_by("evidence:read"), Some("evidence:write"));
        assert_eq!(implied_by("evidence:verify"), None);
        assert_eq!(implied_by("epcr:read"), None);
        assert_eq!(implied_by(PLATFORM_ADMIN), None);
    }

    #[test]
    fn the_tenant_admin_scope_is_not_requestable() {
        assert!(catalog_entry(PLATFORM_ADMIN).is_none());
    }

    #[test]
    fn space_separated_round_trip_sorts_and_dedups() {
        let s = ScopeSet::from_space_separated("webhooks:write  incidents:read webhooks:write");
        assert_eq!(s.to_string(), "incidents:read webhooks:write");
        assert!(s.unknown().is_empty());
        assert_eq!(ScopeSet::from_space_separated("nope webhooks:read").unknown(), vec!["nope"]);
    }
}
