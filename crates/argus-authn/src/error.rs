use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use argus_types::ProblemKind;
use argus_types::problem::actix_response;
use jsonwebtoken::errors::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    #[error("no bearer token was sent")]
    Missing,
    #[error("the bearer token is malformed")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    #[error("the token is not an access token (typ must be at+jwt)")]
    NotAnAccessToken,
    #[error(
        "the token was not signed by a key of this API's key set (the key gate: live and sandbox keys never cross)"
    )]
    UnknownKey,
    #[error("the token's signature is invalid (the key gate)")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    Issuer,
    #[error("the token is for another audience (the audience gate: live and sandbox tokens never cross)")]
    Audience,
    #[error("the token lacks a required claim or has a malformed one")]
    Claims,
    #[error("the token was revoked")]
    Revoked,
    /// The revocation set could not be read (its listener is down and so is
    /// the database): answered 503, never served as valid.
    #[error("cannot check the token now")]
    RevocationUnknown,
    #[error("the token lacks the scope `{0}`")]
    InsufficientScope(&'static str),
    #[error("send X-Tenant-ID equal to the token's tenant")]
    TenantMismatch,
    #[error("the verifier is not configured")]
    NotConfigured,
    /// Fetching the sandbox's revocation list failed (never sent to a
    /// caller: the verifier keeps the last list until it is stale).
    #[error("revocation list at {url}: {reason}")]
    RevocationList { url: String, reason: String },
    /// The sandbox could not provision the token's tenant in its database.
    #[error("cannot take the token's tenant now")]
    TenantUnavailable,
    /// `X-Sandbox-Scenario` is not a scenario's name in form.
    #[error(
        "X-Sandbox-Scenario must name a scenario: 1 to 64 lowercase letters, digits and `-` (GET /v1/sandbox/scenarios lists them)"
    )]
    ScenarioHeader,
    #[error("there is no sandbox scenario `{0}` (GET /v1/sandbox/scenarios lists them)")]
    UnknownScenario(String),
    /// `X-Sandbox-Scenario` sent to the live API.
    #[error("X-Sandbox-Scenario is answered by the sandbox (sandbox-api.knogin.com) only")]
    ScenarioNotHere,
    /// The scenario's tenant could not be seeded now.
    #[error("cannot prepare the sandbox scenario now")]
    ScenarioUnavailable,
}

impl AuthnError {
    pub(crate) fn from_jwt(e: jsonwebtoken::errors::Error) -> Self {
        match e.kind() {
            ErrorKind::InvalidSignature => Self::Signature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::Issuer,
            ErrorKind::InvalidAudience => Self::Audience,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Self::Algorithm,
            ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) | ErrorKind::InvalidClaimFormat(_) => Self::Claims,
            _ => Self::Malformed,
        }
    }

    /// Which of the two gates between live and sandbox refused the token,
    /// if one did: `audience` (its `aud` is not this API's) or `key` (it was
    /// not signed by this API's key set). Each gate holds on its own.
    pub fn gate(&self) -> Option<&'static str> {
        match self {
            Self::Audience => Some("audience"),
            Self::UnknownKey | Self::Signature => Some("key"),
            _ => None,
        }
    }

    /// RFC 6750 §3: the challenge sent with the error.
    pub fn challenge(&self) -> String {
        match self {
            Self::InsufficientScope(scope) => format!(
                "Bearer realm=\"argus\", error=\"insufficient_scope\", error_description=\"{self}\", scope=\"{scope}\""
            ),
            _ => format!("Bearer realm=\"argus\", error=\"invalid_token\", error_description=\"{self}\""),
        }
    }
}

impl ResponseError for AuthnError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        // actix-web 4 has its own `http` version, hence the round trip by number.
        let status = self.problem_kind().status().as_u16();
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let kind = self.problem_kind();
        let detail = match self {
            // Never the list's URL or what it said.
            Self::RevocationList { .. } => "the token cannot be checked now".to_owned(),
            _ => self.to_string(),
        };
        let mut problem = kind.problem(detail);
        if let Some(gate) = self.gate() {
            problem = problem.value("gate", &gate);
        }
        let mut response = actix_response(&problem);
        if matches!(self, Self::RevocationUnknown | Self::TenantUnavailable | Self::ScenarioUnavailable) {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        // A challenge only where a token is at fault: not for a scenario
        // or a tenant the request names.
        if (matches!(kind, ProblemKind::Unauthenticated) || matches!(self, Self::InsufficientScope(_)))
            && let Ok(value) = header::HeaderValue::from_str(&self.challenge())
        {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl AuthnError {
    fn problem_kind(&self) -> ProblemKind {
        match self {
            Self::ScenarioHeader | Self::ScenarioNotHere => ProblemKind::Validation,
            Self::UnknownScenario(_) => ProblemKind::NotFound,
            Self::InsufficientScope(_) | Self::TenantMismatch => ProblemKind::Forbidden,
            Self::NotConfigured | Self::RevocationList { .. } => ProblemKind::Internal,
            Self::RevocationUnknown | Self::TenantUnavailable | Self::ScenarioUnavailable => ProblemKind::Unavailable,
            _ => ProblemKind::Unauthenticated,
        }
    }
}
