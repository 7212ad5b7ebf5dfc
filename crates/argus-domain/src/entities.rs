//! The entity graph's kinds: a closed set of entity kinds, and relationship
//! kinds the caller names (lowercase snake case).

use crate::text_enum::text_enum;

text_enum! {
    pub enum EntityKind("entity kind") {
        Person = "person",
        Organisation = "organisation",
        Vehicle = "vehicle",
        Location = "location",
    }
}

/// Longest relationship kind.
pub const MAX_RELATIONSHIP_KIND: usize = 64;

/// A relationship kind: lowercase snake case, at most 64 characters.
pub fn valid_relationship_kind(kind: &str) -> bool {
    kind.len() <= MAX_RELATIONSHIP_KIND
        && kind.starts_with(|c: char| c.is_ascii_lowercase())
        && kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relationship_kinds_are_lowercase_snake_case() {
        assert!(valid_relationship_kind("knows"));
        assert!(valid_relationship_kind("owns_2"));
        assert!(!valid_relationship_kind("Knows"));
        assert!(!valid_relationship_kind("2owns"));
        assert!(!valid_relationship_kind(""));
        assert!(!valid_relationship_kind(&"a".repeat(65)));
        assert_eq!(
            "robot".parse::<EntityKind>().unwrap_err().to_string(),
            "entity kind must be one of person, organisation, vehicle, location, not `robot`"
        );
    }
}
