//! `POST /graphql`: the bearer-authenticated, tenant-scoped GraphQL
//! transport that runs only curated documents.
//!
//! In order, a request must: carry a valid access token (else HTTP 401,
//! `UNAUTHENTICATED`); send `X-Tenant-ID` equal to the token's `tid` (else
//! 403, `FORBIDDEN`); fit in [`MAX_BODY`] bytes (else 413,
//! `PAYLOAD_TOO_LARGE`); be a JSON object with `query` or `id` (else 400,
//! `BAD_REQUEST`). The document must not use introspection
//! (`INTROSPECTION_DISABLED`), stay within the depth and complexity limits
//! (`QUERY_TOO_DEEP`, `QUERY_TOO_COMPLEX`), and be in a bundle granted to
//! the calling app in the caller's tenant (`PERSISTED_QUERY_NOT_APPROVED`);
//! those refusals are GraphQL errors in a 200 response, as GraphQL over
//! HTTP answers well-formed requests. Resolver errors carry their own codes.

pub mod document;
pub mod incident_cache;
pub mod schema;
pub mod surface;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use argus_authn::{AuthnError, Principal, TokenVerifier};
use argus_crypto::provenance::ProvenanceSealer;
use argus_http::body::{BodyError, MediaType, has_media_type, read_body};
use argus_http::openapi::RequiredTenantHeader;
use argus_store::Store;
use argus_store::bundles::{document_hash, tokenize};
use argus_types::AccessClaims;
pub use incident_cache::IncidentCache;
use juniper::{EmptySubscription, GraphQLError, ValidatedOperation};
use serde::Deserialize;
use serde_json::{Value, json};

use self::document::{MAX_COMPLEXITY, MAX_DEPTH, analyse};
use self::schema::{Ctx, Mutation, Query, RunningOperation, Schema};

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// The header naming the tenant the caller acts in.
use argus_authn::TENANT_HEADER;

/// How long an approval is remembered. A revoked grant keeps working this
/// long at most; in exchange the hot path of a persisted read skips a query.
const APPROVAL_TTL: Duration = Duration::from_secs(5);
const APPROVAL_CACHE_MAX: usize = 10_000;
/// Verified tokens remembered (until they expire), so a client's repeated
/// calls skip the RS256 check.
const TOKEN_CACHE_MAX: usize = 10_000;

type ApprovalKey = (String, String, String);
/// An approved document, parsed and validated once for each operation name.
type Prepared = ValidatedOperation<'static, Query, Mutation, EmptySubscription<Ctx>>;
type PreparedCache = HashMap<(String, Option<String>), Arc<Prepared>>;

pub struct GraphqlState {
    /// `'static` so validated operations, which borrow the schema, can be
    /// cached; one schema per server, leaked once at start.
    pub schema: &'static Schema,
    pub store: Store,
    pub verifier: TokenVerifier,
    pub incidents: IncidentCache,
    /// Seals and opens the keys that sign evidence transcripts.
    pub provenance: ProvenanceSealer,
    approvals: Mutex<HashMap<ApprovalKey, (Instant, Arc<str>)>>,
    tokens: Mutex<HashMap<Box<str>, AccessClaims>>,
    /// Approved document texts by hash. Leaked once per distinct approved
    /// document (validated operations borrow their text): bounded by the
    /// documents an operator has put into bundles.
    texts: Mutex<HashMap<String, &'static str>>,
    prepared: Mutex<PreparedCache>,
    /// The sandbox's rule: every loaded bundle is available to every app,
    /// granted or not.
    every_bundle: bool,
}

impl GraphqlState {
    pub fn new(store: Store, verifier: TokenVerifier, incidents: IncidentCache, provenance: ProvenanceSealer) -> Self {
        Self {
            schema: Box::leak(Box::new(schema::schema())),
            store,
            verifier,
            incidents,
            provenance,
            approvals: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            texts: Mutex::new(HashMap::new()),
            prepared: Mutex::new(HashMap::new()),
            every_bundle: false,
        }
    }

    /// The sandbox's state: any operation of any loaded bundle runs for
    /// any app, without a grant.
    pub fn approving_every_bundle(mut self) -> Self {
        self.every_bundle = true;
        self
    }

    /// Verifies a bearer token, from the cache when it verified before.
    async fn verify(&self, token: &str) -> Result<AccessClaims, AuthnError> {
        let now = chrono::Utc::now().timestamp();
        let cached = match self.tokens.lock() {
            Ok(cache) => cache.get(token).filter(|c| c.exp > now).cloned(),
            Err(_) => None,
        };
        if let Some(claims) = cached {
            // The signature is not checked again; revocation is, from the
            // in-memory set, so a revoked token stops working at once.
            self.verifier.ensure_not_revoked(&claims).await?;
            return Ok(claims);
        }
        let claims = self.verifier.verify(token).await?;
        if let Ok(mut cache) = self.tokens.lock() {
            if cache.len() >= TOKEN_CACHE_MAX {
                cache.retain(|_, c| c.exp > now);
                if cache.len() >= TOKEN_CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(token.into(), claims.clone());
        }
        Ok(claims)
    }

    /// The approved document `sha256` (text `document`) parsed and validated
    /// for `operation`, from the cache when it was before.
    fn prepare(&self, sha256: &str, document: &str, operation: Option<&str>) -> Result<Arc<Prepared>, GraphQLError> {
        let key = (sha256.to_owned(), operation.map(str::to_owned));
        if let Ok(cache) = self.prepared.lock()
            && let Some(p) = cache.get(&key)
        {
            return Ok(p.clone());
        }
        let text: &'static str = match self.texts.lock() {
            Ok(mut texts) => {
                texts.entry(sha256.to_owned()).or_insert_with(|| Box::leak(document.to_owned().into_boxed_str()))
            }
            // Unreachable in practice (nothing panics under this lock);
            // fall back to a leak that is not remembered.
            Err(_) => Box::leak(document.to_owned().into_boxed_str()),
        };
        // Only successes are kept, so the map holds at most one entry per
        // operation of each approved document.
        let prepared = Arc::new(ValidatedOperation::new(text, operation, self.schema)?);
        if let Ok(mut cache) = self.prepared.lock() {
            cache.insert(key, prepared.clone());
        }
        Ok(prepared)
    }

    /// The approved document with this hash for this caller, if any.
    async fn approved(&self, principal: &Principal, sha256: &str) -> Result<Option<Arc<str>>, argus_store::StoreError> {
        let key = (principal.tenant.to_string(), principal.client_id.clone(), sha256.to_owned());
        if let Ok(cache) = self.approvals.lock()
            && let Some((at, doc)) = cache.get(&key)
            && at.elapsed() < APPROVAL_TTL
        {
            return Ok(Some(doc.clone()));
        }
        let found = if self.every_bundle {
            self.store.loaded_document(sha256).await?
        } else {
            self.store.approved_document(&principal.tenant, &principal.client_id, sha256).await?
        };
        let Some(doc) = found else {
            return Ok(None);
        };
        let doc: Arc<str> = Arc::from(doc);
        if let Ok(mut cache) = self.approvals.lock() {
            if cache.len() >= APPROVAL_CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, (Instant::now(), doc.clone()));
        }
        Ok(Some(doc))
    }
}

/// A response holding only errors, each with `extensions.code`.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }))
}

/// A refused token: 401 with `extensions.code` `UNAUTHENTICATED`, and
/// `extensions.gate` when the audience or the key gate between live and
/// the sandbox refused it; the RFC 6750 challenge in `WWW-Authenticate`.
fn unauthenticated(e: &AuthnError) -> HttpResponse {
    let mut extensions = json!({ "code": "UNAUTHENTICATED" });
    if let Some(gate) = e.gate() {
        extensions["gate"] = json!(gate);
    }
    let body = json!({ "errors": [{ "message": e.to_string(), "extensions": extensions }] });
    let mut response = HttpResponse::build(StatusCode::UNAUTHORIZED).json(body);
    if let Ok(value) = header::HeaderValue::from_str(&e.challenge()) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphqlRequest {
    /// The GraphQL document; it must be one of the app's approved documents.
    pub query: Option<String>,
    /// `sha256:<hex>` of an approved document's normalised text, instead of
    /// the document.
    pub id: Option<String>,
    #[serde(rename = "operationName")]
    pub operation_name: Option<String>,
    /// A JSON object of variable values.
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Value>,
    /// Accepted for client compatibility and ignored.
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<Value>,
}

/// The GraphQL response: `data` and/or `errors`, each error with
/// `extensions.code`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct GraphqlResponse {
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Vec<Value>>,
}

/// Run a curated GraphQL operation
///
/// Runs one approved operation for the caller's tenant. Send the document
/// (`query`) or its id (`id`: `sha256:` and the lowercase hex SHA-256 of the
/// normalised document: its lexical tokens as written, joined by single
/// spaces, with whitespace, commas and comments dropped). Either way the
/// document must be in an operation bundle granted to the calling app.
/// Schema introspection, `GET` and playgrounds are refused.
#[utoipa::path(
    post,
    path = "/graphql",
    tag = "GraphQL transport",
    security(("bearer" = [])),
    params(RequiredTenantHeader),
    request_body(content = GraphqlRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The result; refusals of the document (`PERSISTED_QUERY_NOT_APPROVED`, `INTROSPECTION_DISABLED`, `QUERY_TOO_DEEP`, `QUERY_TOO_COMPLEX`) and field errors (`FORBIDDEN`, `NOT_FOUND`, `BAD_USER_INPUT`, ...) are in `errors`", body = GraphqlResponse),
        (status = 400, description = "Not a GraphQL request (`BAD_REQUEST`)", body = GraphqlResponse),
        (status = 401, description = "Missing or invalid bearer token (`UNAUTHENTICATED`)", body = GraphqlResponse),
        (status = 403, description = "`X-Tenant-ID` missing or not the token's tenant (`FORBIDDEN`)", body = GraphqlResponse),
        (status = 404, description = "X-Sandbox-Scenario names no scenario (`SCENARIO_NOT_FOUND`)", body = GraphqlResponse),
        (status = 413, description = "Body over 64 KiB (`PAYLOAD_TOO_LARGE`)", body = GraphqlResponse),
        (status = 415, description = "Body not application/json (`BAD_REQUEST`)", body = GraphqlResponse),
    )
)]
pub async fn graphql(req: HttpRequest, payload: web::Payload, state: web::Data<GraphqlState>) -> HttpResponse {
    let token = match argus_authn::bearer_token(&req) {
        Ok(t) => t,
        Err(e) => return unauthenticated(&e),
    };
    let principal = match state.verify(&token).await {
        Ok(claims) => Principal::from_claims(claims),
        Err(e) => return unauthenticated(&e),
    };
    match req.headers().get(TENANT_HEADER).map(|v| v.to_str()) {
        None => return error_response(StatusCode::FORBIDDEN, "FORBIDDEN", "send X-Tenant-ID: the token's tenant"),
        Some(Ok(t)) if t == principal.tenant.as_str() => {}
        Some(_) => {
            return error_response(StatusCode::FORBIDDEN, "FORBIDDEN", "X-Tenant-ID is not the tenant of the token");
        }
    }
    let principal = match principal.enter_scenario(&req).await {
        Ok(p) => p,
        Err(e) => return scenario_refused(&e),
    };
    argus_telemetry::record_tenant(principal.tenant.as_str());
    if !has_media_type(&req, MediaType::Json) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "send the request as application/json",
        );
    }
    let body = match read_body(&req, payload, MAX_BODY).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            let message = format!("the request body must be at most {MAX_BODY} bytes");
            return error_response(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", &message);
        }
        Err(BodyError::Read) => {
            return error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", "the request body could not be read");
        }
    };
    let request: GraphqlRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("the body is not a GraphQL request: {e}");
            return error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message);
        }
    };
    run(&state, principal, request).await
}

/// `X-Sandbox-Scenario` refused: its problem's status, and a code for it.
fn scenario_refused(e: &AuthnError) -> HttpResponse {
    let status = actix_web::ResponseError::status_code(e);
    let code = match status {
        StatusCode::NOT_FOUND => "SCENARIO_NOT_FOUND",
        StatusCode::SERVICE_UNAVAILABLE => "SERVICE_UNAVAILABLE",
        _ => "BAD_REQUEST",
    };
    error_response(status, code, &e.to_string())
}

fn refuse(code: &str, message: &str) -> HttpResponse {
    error_response(StatusCode::OK, code, message)
}

/// Parses `sha256:<hex>` into the lowercase hex.
fn persisted_id(id: &str) -> Option<String> {
    let hex = id.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hex.to_ascii_lowercase())
}

async fn run(state: &GraphqlState, principal: Principal, request: GraphqlRequest) -> HttpResponse {
    let variables = match request.variables {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => match serde_json::from_value::<juniper::InputValue>(v) {
            Ok(v) => Some(v),
            Err(e) => return error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("bad variables: {e}")),
        },
        Some(_) => return error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", "`variables` must be an object"),
    };
    let wanted = match &request.id {
        None => None,
        Some(id) => match persisted_id(id) {
            Some(hex) => Some(hex),
            None => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "`id` must be `sha256:` followed by 64 hex digits",
                );
            }
        },
    };
    // The document's hash, from the sent text when there is one.
    let sha256 = match (&request.query, wanted) {
        (None, None) => {
            return error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", "send `query` or a persisted `id`");
        }
        (None, Some(hex)) => hex,
        (Some(query), wanted) => {
            let hash = match document_hash(query) {
                Ok(h) => h,
                Err(e) => return refuse("GRAPHQL_PARSE_FAILED", &format!("the document does not parse: {e}")),
            };
            if wanted.is_some_and(|w| w != hash) {
                return refuse("BAD_USER_INPUT", "`id` is not the hash of the sent `query`");
            }
            // Checked before approval, so a client learns why rather than
            // only that the document is not in its bundles.
            if let Some(refusal) = check_document(query) {
                return refusal;
            }
            hash
        }
    };
    let document = match state.approved(&principal, &sha256).await {
        Ok(Some(doc)) => doc,
        Ok(None) => {
            tracing::debug!(client = %principal.client_id, %sha256, "document not approved");
            return refuse(
                "PERSISTED_QUERY_NOT_APPROVED",
                "this operation is not in an operation bundle granted to this app",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "approval lookup failed");
            return error_response(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "retry later");
        }
    };
    if request.query.is_none()
        && let Some(refusal) = check_document(&document)
    {
        return refusal;
    }
    // The approved text runs (a sent document is the same up to layout, so
    // error locations refer to the bundle's layout).
    let operation = RunningOperation { document: document.clone(), requested_name: request.operation_name.clone() };
    let ctx = Ctx {
        store: state.store.clone(),
        principal,
        incidents: state.incidents.clone(),
        operation,
        provenance: state.provenance.clone(),
    };
    let gql = juniper::http::GraphQLRequest::<juniper::DefaultScalarValue>::new(String::new(), None, variables);
    let result = match state.prepare(&sha256, &document, request.operation_name.as_deref()) {
        Ok(prepared) => prepared.execute(&gql.variables(), &ctx).await,
        Err(e) => Err(e),
    };
    let untagged = match &result {
        Ok(_) => "INTERNAL_SERVER_ERROR",
        Err(GraphQLError::ParseError(_)) => "GRAPHQL_PARSE_FAILED",
        Err(GraphQLError::ValidationError(_)) => "GRAPHQL_VALIDATION_FAILED",
        Err(_) => "BAD_USER_INPUT",
    };
    let response = juniper::http::GraphQLResponse::from_result(result);
    let mut body = match serde_json::to_value(&response) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "serialising a GraphQL response");
            return error_response(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR", "internal error");
        }
    };
    tag_errors(&mut body, untagged);
    HttpResponse::Ok().json(body)
}

/// Introspection and the limits; `Some(refusal)` when the document fails.
fn check_document(document: &str) -> Option<HttpResponse> {
    let tokens = match tokenize(document) {
        Ok(t) => t,
        Err(e) => return Some(refuse("GRAPHQL_PARSE_FAILED", &format!("the document does not parse: {e}"))),
    };
    let analysis = analyse(&tokens);
    if analysis.introspection {
        return Some(refuse("INTROSPECTION_DISABLED", "schema introspection is disabled on this API"));
    }
    if analysis.depth > MAX_DEPTH {
        let message = format!("the selection is {} levels deep; at most {MAX_DEPTH} are allowed", analysis.depth);
        return Some(refuse("QUERY_TOO_DEEP", &message));
    }
    if analysis.complexity > MAX_COMPLEXITY {
        let message =
            format!("the document selects {} fields; at most {MAX_COMPLEXITY} are allowed", analysis.complexity);
        return Some(refuse("QUERY_TOO_COMPLEX", &message));
    }
    None
}

/// Gives every error without `extensions.code` the code `code`: juniper's
/// own parse and validation errors carry none.
fn tag_errors(body: &mut Value, code: &str) {
    let Some(errors) = body.get_mut("errors").and_then(Value::as_array_mut) else { return };
    for error in errors {
        let Some(obj) = error.as_object_mut() else { continue };
        let extensions = obj.entry("extensions").or_insert_with(|| json!({}));
        if let Some(ext) = extensions.as_object_mut()
            && !ext.contains_key("code")
        {
            ext.insert("code".into(), json!(code));
        }
    }
}

/// `GET /graphql` and playground paths: no schema browsing here.
pub async fn no_playground(req: HttpRequest) -> HttpResponse {
    let mut response = error_response(
        if req.path() == "/graphql" { StatusCode::METHOD_NOT_ALLOWED } else { StatusCode::NOT_FOUND },
        "INTROSPECTION_DISABLED",
        "GraphQL playgrounds, GET requests and introspection are disabled; POST approved operations to /graphql",
    );
    response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_ids_are_sha256_hex() {
        let hex = "ab".repeat(32);
        assert_eq!(persisted_id(&format!("sha256:{hex}")), Some(hex.clone()));
        assert_eq!(persisted_id(&format!("sha256:{}", hex.to_uppercase())), Some(hex));
        assert_eq!(persisted_id("sha256:abc"), None);
        assert_eq!(persisted_id(&"ab".repeat(32)), None);
    }

    #[test]
    fn untagged_errors_get_a_code() {
        let mut body = json!({"errors": [{"message": "x"}, {"message": "y", "extensions": {"code": "NOT_FOUND"}}]});
        tag_errors(&mut body, "GRAPHQL_VALIDATION_FAILED");
        assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
        assert_eq!(body["errors"][1]["extensions"]["code"], "NOT_FOUND");
    }
}
