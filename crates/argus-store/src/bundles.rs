//! Curated GraphQL operation bundles: named sets of operation documents,
//! granted per tenant to an app. The API runs a document only if it is in
//! a bundle granted to the calling app in the caller's tenant.
//!
//! A document is identified by `sha256:<hex>` of its *normalised* text: the
//! GraphQL lexical tokens of the document (spec §2.1), exactly as written,
//! joined by one space (U+0020), with every ignored token dropped
//! (whitespace, line terminators, commas, comments, the byte order mark).
//! So reformatting or re-commenting a document keeps its id; renaming
//! anything, or changing a literal, makes a different document.

use std::fmt::Write as _;

use argus_types::{ClientId, TenantId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::schema::{bundle_documents, bundle_grants, operation_bundles};
use crate::stored_text::Stored;
use crate::{Store, StoreError};

/// A lexical error in a GraphQL document, with the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub offset: usize,
    pub reason: &'static str,
}

impl std::fmt::Display for LexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

/// One lexical token: its text as written and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub offset: usize,
}

impl Token<'_> {
    pub fn is_name(&self) -> bool {
        self.text.bytes().next().is_some_and(|b| b == b'_' || b.is_ascii_alphabetic())
    }
}

/// The document's tokens, ignored tokens dropped.
///
/// Walks characters, never bytes: `i` is always on a character boundary, so
/// slicing `source` cannot panic whatever the text holds.
pub fn tokenize(source: &str) -> Result<Vec<Token<'_>>, LexError> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(c) = source[i..].chars().next() {
        match c {
            ' ' | '\t' | '\n' | '\r' | ',' | '\u{feff}' => i += c.len_utf8(),
            '#' => i += source[i..].find(['\n', '\r']).unwrap_or(source.len() - i),
            '!' | '$' | '&' | '(' | ')' | ':' | '=' | '@' | '[' | ']' | '{' | '|' | '}' => {
                tokens.push(Token { text: &source[i..i + 1], offset: i });
                i += 1;
            }
            '.' if source[i..].starts_with("...") => {
                tokens.push(Token { text: &source[i..i + 3], offset: i });
                i += 3;
            }
            '.' => return Err(LexError { offset: i, reason: "unexpected `.`" }),
            '"' => {
                let start = i;
                i = string_end(source, start)?;
                tokens.push(Token { text: &source[start..i], offset: start });
            }
            '-' | '0'..='9' => {
                let start = i;
                let mut previous = c;
                i += 1;
                for d in source[i..].chars() {
                    // `-` and `+` only inside an exponent.
                    let fits = d.is_ascii_digit()
                        || matches!(d, '.' | 'e' | 'E')
                        || (matches!(d, '+' | '-') && matches!(previous, 'e' | 'E'));
                    if !fits {
                        break;
                    }
                    previous = d;
                    i += 1;
                }
                tokens.push(Token { text: &source[start..i], offset: start });
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let start = i;
                i += source[i..].find(|d: char| d != '_' && !d.is_ascii_alphanumeric()).unwrap_or(source.len() - i);
                tokens.push(Token { text: &source[start..i], offset: start });
            }
            _ => return Err(LexError { offset: i, reason: "unexpected character" }),
        }
    }
    Ok(tokens)
}

/// Where the string or block string opening at `start` ends (just past its
/// closing quotes).
fn string_end(source: &str, start: usize) -> Result<usize, LexError> {
    if let Some(body) = source[start..].strip_prefix("\"\"\"") {
        let mut chars = body.char_indices();
        while let Some((j, c)) = chars.next() {
            let rest = &body[j..];
            if rest.starts_with("\\\"\"\"") {
                // An escaped `\"""` is part of the text: skip its quotes.
                chars.nth(2);
            } else if c == '"' && rest.starts_with("\"\"\"") {
                return Ok(start + 3 + j + 3);
            }
        }
        return Err(LexError { offset: start, reason: "unterminated block string" });
    }
    let mut chars = source[start + 1..].char_indices();
    while let Some((j, c)) = chars.next() {
        match c {
            '\n' | '\r' => break,
            // The escaped character, whatever it is, cannot close the string.
            '\\' => {
                chars.next();
            }
            '"' => return Ok(start + 1 + j + 1),
            _ => {}
        }
    }
    Err(LexError { offset: start, reason: "unterminated string" })
}

/// The normalised text of a document (see the module documentation).
pub fn normalise(source: &str) -> Result<String, LexError> {
    let tokens = tokenize(source)?;
    Ok(tokens.iter().map(|t| t.text).collect::<Vec<_>>().join(" "))
}

/// Lowercase hex SHA-256 of the normalised document.
pub fn document_hash(source: &str) -> Result<String, LexError> {
    Ok(sha256_hex(normalise(source)?.as_bytes()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut hex = String::with_capacity(64);
    for b in digest.as_ref() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// One operation of a bundle file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleOperation {
    pub name: String,
    /// The operation's text as written in the file.
    pub document: String,
    /// Hex SHA-256 of its normalised text.
    pub sha256: String,
}

/// Splits a `.graphql` file into its operations. Every definition must be
/// a named `query` or `mutation` (no fragments, no anonymous or duplicate
/// names, no introspection), so each operation is a document on its own.
pub fn parse_bundle_file(source: &str) -> Result<Vec<BundleOperation>, String> {
    let tokens = tokenize(source).map_err(|e| e.to_string())?;
    let mut operations: Vec<BundleOperation> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let start = tokens[i];
        match start.text {
            "query" | "mutation" => {}
            "fragment" => return Err(format!("fragments are not supported in bundles (byte {})", start.offset)),
            "subscription" => return Err(format!("subscriptions are not supported (byte {})", start.offset)),
            _ => return Err(format!("expected a named query or mutation at byte {}", start.offset)),
        }
        let name = tokens.get(i + 1).filter(|t| t.is_name()).map(|t| t.text.to_owned()).ok_or_else(|| {
            format!("the operation at byte {} has no name; every bundle operation needs one", start.offset)
        })?;
        // The definition ends where its selection set closes: the `}` that
        // brings the brace depth back to zero outside any parentheses
        // (object literals in variable defaults sit inside them).
        let (mut braces, mut parens, mut end) = (0usize, 0usize, None);
        for (j, t) in tokens.iter().enumerate().skip(i + 2) {
            match t.text {
                "(" => parens += 1,
                ")" => parens = parens.saturating_sub(1),
                "{" => braces += 1,
                "}" => {
                    braces = braces.saturating_sub(1);
                    if braces == 0 && parens == 0 {
                        end = Some(j);
                        break;
                    }
                }
                "__schema" | "__type" => return Err(format!("operation {name} uses introspection")),
                _ => {}
            }
        }
        let end = end.ok_or_else(|| format!("operation {name} is not terminated"))?;
        let last = tokens[end];
        let document = source[start.offset..last.offset + 1].to_owned();
        if operations.iter().any(|o| o.name == name) {
            return Err(format!("operation {name} is defined twice"));
        }
        let sha256 = document_hash(&document).map_err(|e| e.to_string())?;
        operations.push(BundleOperation { name, document, sha256 });
        i = end + 1;
    }
    if operations.is_empty() {
        return Err("the file defines no operations".to_owned());
    }
    Ok(operations)
}

#[derive(Debug, Clone)]
pub struct BundleDocument {
    pub operation_name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Queryable)]
pub struct BundleGrant {
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = Stored<ClientId>)]
    pub client_id: ClientId,
}

#[derive(Debug, Clone)]
pub struct BundleSummary {
    pub name: String,
    pub updated_at: DateTime<Utc>,
    pub documents: Vec<BundleDocument>,
    pub grants: Vec<BundleGrant>,
}

impl Store {
    /// Creates or replaces the bundle `name` with exactly `operations`.
    pub async fn load_bundle(&self, name: &str, operations: &[BundleOperation]) -> Result<(), StoreError> {
        self.transaction(async |conn| {
            diesel::insert_into(operation_bundles::table)
                .values(operation_bundles::name.eq(name))
                .on_conflict(operation_bundles::name)
                .do_update()
                .set(operation_bundles::updated_at.eq(diesel::dsl::now))
                .execute(conn)
                .await?;
            diesel::delete(bundle_documents::table)
                .filter(bundle_documents::bundle_name.eq(name))
                .execute(conn)
                .await?;
            let rows: Vec<_> = operations
                .iter()
                .map(|o| {
                    (
                        bundle_documents::bundle_name.eq(name),
                        bundle_documents::sha256.eq(&o.sha256),
                        bundle_documents::operation_name.eq(&o.name),
                        bundle_documents::document.eq(&o.document),
                    )
                })
                .collect();
            diesel::insert_into(bundle_documents::table).values(rows).execute(conn).await.map_err(|e| {
                crate::unique_violation_to_conflict(e, "two operations of the bundle are the same document")
            })?;
            Ok(())
        })
        .await
    }

    /// Grants a loaded bundle to an app of `tenant` (idempotent). `NotFound`
    /// when there is no such bundle or no such app in that tenant.
    pub async fn grant_bundle(&self, tenant: &TenantId, client: &ClientId, bundle: &str) -> Result<(), StoreError> {
        if self.get_app(tenant, client).await?.is_none() {
            return Err(StoreError::NotFound(format!("app {client} in tenant {tenant}")));
        }
        let mut conn = self.conn().await?;
        let exists: i64 =
            operation_bundles::table.filter(operation_bundles::name.eq(bundle)).count().get_result(&mut conn).await?;
        if exists == 0 {
            return Err(StoreError::NotFound(format!("bundle {bundle}")));
        }
        diesel::insert_into(bundle_grants::table)
            .values((
                bundle_grants::tenant_id.eq(tenant.as_str()),
                bundle_grants::client_id.eq(client.as_str()),
                bundle_grants::bundle_name.eq(bundle),
            ))
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    /// Takes a bundle away from an app of `tenant`; whether it had it.
    pub async fn revoke_bundle_grant(
        &self,
        tenant: &TenantId,
        client: &ClientId,
        bundle: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let deleted = diesel::delete(
            bundle_grants::table
                .filter(bundle_grants::tenant_id.eq(tenant.as_str()))
                .filter(bundle_grants::client_id.eq(client.as_str()))
                .filter(bundle_grants::bundle_name.eq(bundle)),
        )
        .execute(&mut conn)
        .await?;
        Ok(deleted > 0)
    }

    pub async fn list_bundles(&self) -> Result<Vec<BundleSummary>, StoreError> {
        let mut conn = self.conn().await?;
        let bundles: Vec<(String, DateTime<Utc>)> = operation_bundles::table
            .order(operation_bundles::name)
            .select((operation_bundles::name, operation_bundles::updated_at))
            .load(&mut conn)
            .await?;
        let documents: Vec<(String, String, String)> = bundle_documents::table
            .order((bundle_documents::bundle_name, bundle_documents::operation_name))
            .select((bundle_documents::bundle_name, bundle_documents::operation_name, bundle_documents::sha256))
            .load(&mut conn)
            .await?;
        let grants: Vec<(String, BundleGrant)> = bundle_grants::table
            .order((bundle_grants::bundle_name, bundle_grants::tenant_id, bundle_grants::client_id))
            .select((bundle_grants::bundle_name, (bundle_grants::tenant_id, bundle_grants::client_id)))
            .load(&mut conn)
            .await?;
        Ok(bundles
            .into_iter()
            .map(|(name, updated_at)| BundleSummary {
                documents: documents
                    .iter()
                    .filter(|d| d.0 == name)
                    .map(|d| BundleDocument { operation_name: d.1.clone(), sha256: d.2.clone() })
                    .collect(),
                grants: grants.iter().filter(|g| g.0 == name).map(|g| g.1.clone()).collect(),
                name,
                updated_at,
            })
            .collect())
    }

    /// The texts of every document in the bundles granted to `client` in
    /// `tenant` (each once): the operations that app may run.
    pub async fn granted_documents(&self, tenant: &TenantId, client: &str) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(bundle_documents::table
            .inner_join(bundle_grants::table.on(bundle_grants::bundle_name.eq(bundle_documents::bundle_name)))
            .filter(bundle_grants::tenant_id.eq(tenant.as_str()))
            .filter(bundle_grants::client_id.eq(client))
            .select(bundle_documents::document)
            .distinct()
            .load(&mut conn)
            .await?)
    }

    /// The text of the document with this hash if a bundle granted to
    /// `client` in `tenant` holds it.
    pub async fn approved_document(
        &self,
        tenant: &TenantId,
        client: &str,
        sha256: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(bundle_documents::table
            .inner_join(bundle_grants::table.on(bundle_grants::bundle_name.eq(bundle_documents::bundle_name)))
            .filter(bundle_grants::tenant_id.eq(tenant.as_str()))
            .filter(bundle_grants::client_id.eq(client))
            .filter(bundle_documents::sha256.eq(sha256))
            .select(bundle_documents::document)
            .first(&mut conn)
            .await
            .optional()?)
    }

    /// The document with this hash in any loaded bundle, granted or not:
    /// in the sandbox every bundle is available to every app.
    pub async fn loaded_document(&self, sha256: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(bundle_documents::table
            .filter(bundle_documents::sha256.eq(sha256))
            .select(bundle_documents::document)
            .first(&mut conn)
            .await
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn normalisation_ignores_layout_commas_and_comments() {
        let a = "query Q($id: ID!) {\n  incident(id: $id) { id, title } # why\n}";
        let b = "query Q ( $id : ID! ) { incident ( id : $id ) { id title } }";
        assert_eq!(normalise(a).unwrap(), normalise(b).unwrap());
        assert_eq!(normalise(a).unwrap(), "query Q ( $ id : ID ! ) { incident ( id : $ id ) { id title } }");
        assert_ne!(document_hash(a).unwrap(), document_hash("query Q($id: ID!) { incident(id: $id) { id } }").unwrap());
        // Strings are kept as written, commas and all.
        assert_eq!(normalise(r#"{ a(s: "x, # y") }"#).unwrap(), r#"{ a ( s : "x, # y" ) }"#);
        assert_eq!(normalise("{ a(n: -1.5e+3) }").unwrap(), "{ a ( n : -1.5e+3 ) }");
        assert_eq!(document_hash("").unwrap().len(), 64);
    }

    #[test]
    fn bundle_files_split_into_named_operations() {
        let file = "# comment\nquery A($f: IncidentFilter = {status: OPEN}) { incidents(filter: $f) { nodes { id } } }\n\nmutation B { closeIncident(id: \"x\") { id } }\n";
        let ops = parse_bundle_file(file).unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].name, "A");
        assert!(ops[0].document.starts_with("query A(") && ops[0].document.ends_with("} } }"));
        assert_eq!(ops[1].document, "mutation B { closeIncident(id: \"x\") { id } }");
        assert!(parse_bundle_file("{ a }").is_err());
        assert!(parse_bundle_file("query A { a } query A { b }").is_err());
        assert!(parse_bundle_file("query A { __schema { types { name } } }").is_err());
        assert!(parse_bundle_file("fragment F on X { a }").is_err());
    }

    #[test]
    fn non_ascii_text_is_walked_by_character() {
        let doc = r#"query Q { a(s: """é 🦀 \""" ü""", t: "ø\é") }"#;
        let texts: Vec<_> = tokenize(doc).unwrap().iter().map(|t| t.text).collect();
        assert_eq!(texts[7], r#""""é 🦀 \""" ü""""#);
        assert_eq!(texts[10], r#""ø\é""#);
        assert_eq!(tokenize("{ a(s: \"\"\"é").unwrap_err().reason, "unterminated block string");
        assert_eq!(tokenize("{ é }").unwrap_err(), LexError { offset: 2, reason: "unexpected character" });
    }

    /// GraphQL punctuation, quotes, escapes and multi-byte characters, so
    /// random documents reach every branch of the lexer.
    const DOCUMENT_LIKE: &str = "([{}()\"\\#., \n\r:!$@=|&a-zA-Z0-9_+eé🦀\u{feff}\u{300}-]|\"\"\"){0,64}";

    proptest::proptest! {
        #[test]
        fn tokenize_never_panics(source in proptest::prop_oneof![proptest::prelude::any::<String>(), DOCUMENT_LIKE]) {
            if let Ok(tokens) = tokenize(&source) {
                let mut end = 0;
                for t in &tokens {
                    // Every token is the source text at its offset, in order.
                    proptest::prop_assert!(t.offset >= end);
                    proptest::prop_assert_eq!(source.get(t.offset..t.offset + t.text.len()), Some(t.text));
                    end = t.offset + t.text.len();
                }
                // Normalising is idempotent and keeps the document's id.
                let normal = normalise(&source).unwrap();
                proptest::prop_assert_eq!(normalise(&normal).unwrap(), normal.clone());
                proptest::prop_assert_eq!(document_hash(&normal).unwrap(), document_hash(&source).unwrap());
            }
        }

        #[test]
        fn parse_bundle_file_never_panics(source in proptest::prop_oneof![
            proptest::prelude::any::<String>(),
            DOCUMENT_LIKE,
            "(query|mutation) [A-Zé]{1,3} ?\\{ ?[a-z\"é{}()]{0,12} ?\\}( ?#é)?",
        ]) {
            if let Ok(operations) = parse_bundle_file(&source) {
                for o in operations {
                    proptest::prop_assert!(source.contains(&o.document));
                    proptest::prop_assert_eq!(o.sha256, document_hash(&o.document).unwrap());
                }
            }
        }
    }
}
