//! What the transport checks on a document before it runs: introspection,
//! selection depth and complexity. Works on the lexical tokens, so it needs
//! no schema and costs one pass.

use argus_store::bundles::Token;

/// Deepest selection-set nesting accepted (`{ a { b } }` is 2).
pub const MAX_DEPTH: usize = 8;
/// Most field selections accepted in one document.
pub const MAX_COMPLEXITY: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    pub depth: usize,
    /// Field selections, each counted once.
    pub complexity: usize,
    /// A `__schema` or `__type` field is selected (`__typename` is fine).
    pub introspection: bool,
}

/// The name of a document's first operation (`query EncounterById …`), if
/// it has one: for a bundle document, which holds one named operation, its
/// name.
pub fn operation_name(document: &str) -> Option<&str> {
    let tokens = argus_store::bundles::tokenize(document).ok()?;
    let mut tokens = tokens.into_iter();
    let keyword = tokens.next()?;
    let name = tokens.next()?;
    (matches!(keyword.text, "query" | "mutation") && name.is_name()).then_some(name.text)
}

pub fn analyse(tokens: &[Token<'_>]) -> Analysis {
    let (mut braces, mut parens) = (0usize, 0usize);
    let mut analysis = Analysis { depth: 0, complexity: 0, introspection: false };
    for (i, t) in tokens.iter().enumerate() {
        match t.text {
            "(" => parens += 1,
            ")" => parens = parens.saturating_sub(1),
            // Braces inside parentheses are input-object literals, not
            // selection sets.
            "{" if parens == 0 => {
                braces += 1;
                analysis.depth = analysis.depth.max(braces);
            }
            "}" if parens == 0 => braces = braces.saturating_sub(1),
            _ if braces > 0 && parens == 0 && t.is_name() => {
                let previous = i.checked_sub(1).map(|p| tokens[p].text);
                let next = tokens.get(i + 1).map(|n| n.text);
                // Not a fragment spread, a type condition, a directive or an
                // alias (the field follows the alias's `:`).
                if matches!(previous, Some("..." | "on" | "@")) || next == Some(":") {
                    continue;
                }
                analysis.complexity += 1;
                if matches!(t.text, "__schema" | "__type") {
                    analysis.introspection = true;
                }
            }
            _ => {}
        }
    }
    analysis
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use argus_store::bundles::tokenize;

    use super::*;

    fn run(doc: &str) -> Analysis {
        analyse(&tokenize(doc).unwrap())
    }

    #[test]
    fn depth_complexity_and_introspection() {
        let a = run("query Q($f: F = {a: {b: 1}}) { x: incidents(filter: $f) { nodes { id title } } }");
        assert_eq!(a, Analysis { depth: 3, complexity: 4, introspection: false });
        assert!(run("{ __schema { types { name } } }").introspection);
        assert!(run("query { a: __type(name: \"X\") { name } }").introspection);
        assert!(!run("{ incident(id: \"__schema\") { __typename } }").introspection);
        assert_eq!(run("{ a { ... on B @include(if: true) { c } ...F } }").complexity, 2);
        assert_eq!(
            run("{ a(s: \"\"\"é { b } 🦀\"\"\") { c } }"),
            Analysis { depth: 2, complexity: 2, introspection: false }
        );
    }

    #[test]
    fn an_operation_is_named_by_its_second_token() {
        assert_eq!(
            operation_name("# read\nquery EncounterById($id: ID!) { encounter(id: $id) { id } }"),
            Some("EncounterById")
        );
        assert_eq!(operation_name("mutation M { a }"), Some("M"));
        assert_eq!(operation_name("query { a }"), None);
        assert_eq!(operation_name("{ a }"), None);
        assert_eq!(operation_name("\"unterminated"), None);
    }

    proptest::proptest! {
        #[test]
        fn document_checks_never_panic(source in proptest::prop_oneof![
            proptest::prelude::any::<String>(),
            "([{}()\"#.:@ ]|\"\"\"|\\|é|🦀|[a-z_]{1,8}|__schema|\\.\\.\\.|on){0,60}",
        ]) {
            if let Ok(tokens) = tokenize(&source) {
                let a = analyse(&tokens);
                proptest::prop_assert!(a.depth <= tokens.len() && a.complexity <= tokens.len());
            }
        }
    }
}
