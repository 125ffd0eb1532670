//! Errors, split by phase: [`StartupError`] stops a process before it serves;
//! [`RequestError`] ends one request. [`RequestError::to_problem`] is the only
//! place a failure becomes an HTTP status and body.

use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::json;

use crate::auth::refusal::Refusal;
use crate::config::ConfigErrors;
use crate::db::DbError;
use crate::http::problem::Problem;

mod reason_docs;

pub use reason_docs::ReasonDoc;

/// The stable, documented codes a response carries in `reason` and
/// `X-Auth-Reason`. Renaming one is a breaking change: clients match on them.
/// Each has its documentation in [`Reason::doc`]; `docs/reasons.md` is
/// generated from [`Reason::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    // Credentials: 401.
    CredentialsMissing,
    TokenMalformed,
    AlgorithmNotAllowed,
    KeyNotFound,
    SignatureInvalid,
    TokenExpired,
    TokenNotYetValid,
    IssuerMismatch,
    AudienceMismatch,
    ClaimMissing,
    TokenVersionStale,
    TokenRevoked,
    TokenDecryptionFailed,
    CookieSignatureInvalid,
    SessionNotFound,
    SessionExpired,
    ApiKeyInvalid,
    UserNotFound,
    // Authenticated but not allowed: 403.
    Forbidden,
    InsufficientScope,
    // Our own dependencies: 503, never 401.
    JwksUnavailable,
    SessionStoreUnavailable,
    AuthServerUnavailable,
    UserServiceUnavailable,
    DatabaseUnavailable,
    SchemaOutdated,
    // The request itself.
    RequestMalformed,
    ValidationFailed,
    UnsupportedMediaType,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    IdempotencyKeyReused,
    IdempotencyKeyInUse,
    HeaderInvalid,
    HeadersTooLarge,
    BodyTooLarge,
    MethodNotAllowed,
    RouteNotFound,
    OriginNotAllowed,
    // This deployment.
    Misconfigured,
    InternalError,
}

impl Reason {
    pub const ALL: &'static [Reason] = &[
        Reason::CredentialsMissing,
        Reason::TokenMalformed,
        Reason::AlgorithmNotAllowed,
        Reason::KeyNotFound,
        Reason::SignatureInvalid,
        Reason::TokenExpired,
        Reason::TokenNotYetValid,
        Reason::IssuerMismatch,
        Reason::AudienceMismatch,
        Reason::ClaimMissing,
        Reason::TokenVersionStale,
        Reason::TokenRevoked,
        Reason::TokenDecryptionFailed,
        Reason::CookieSignatureInvalid,
        Reason::SessionNotFound,
        Reason::SessionExpired,
        Reason::ApiKeyInvalid,
        Reason::UserNotFound,
        Reason::Forbidden,
        Reason::InsufficientScope,
        Reason::JwksUnavailable,
        Reason::SessionStoreUnavailable,
        Reason::AuthServerUnavailable,
        Reason::UserServiceUnavailable,
        Reason::DatabaseUnavailable,
        Reason::SchemaOutdated,
        Reason::RequestMalformed,
        Reason::ValidationFailed,
        Reason::UnsupportedMediaType,
        Reason::NotFound,
        Reason::PreconditionFailed,
        Reason::PreconditionRequired,
        Reason::IdempotencyKeyReused,
        Reason::IdempotencyKeyInUse,
        Reason::HeaderInvalid,
        Reason::HeadersTooLarge,
        Reason::BodyTooLarge,
        Reason::MethodNotAllowed,
        Reason::RouteNotFound,
        Reason::OriginNotAllowed,
        Reason::Misconfigured,
        Reason::InternalError,
    ];

    /// Code, status and title in one table.
    fn info(self) -> (&'static str, StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Reason::CredentialsMissing => (
                "credentials_missing",
                S::UNAUTHORIZED,
                "No credentials were sent",
            ),
            Reason::TokenMalformed => (
                "token_malformed",
                S::UNAUTHORIZED,
                "The token cannot be read",
            ),
            Reason::AlgorithmNotAllowed => (
                "algorithm_not_allowed",
                S::UNAUTHORIZED,
                "The token's algorithm is not accepted",
            ),
            Reason::KeyNotFound => ("key_not_found", S::UNAUTHORIZED, "No key matches the token"),
            Reason::SignatureInvalid => (
                "signature_invalid",
                S::UNAUTHORIZED,
                "The token's signature is invalid",
            ),
            Reason::TokenExpired => ("token_expired", S::UNAUTHORIZED, "The token has expired"),
            Reason::TokenNotYetValid => (
                "token_not_yet_valid",
                S::UNAUTHORIZED,
                "The token is not valid yet",
            ),
            Reason::IssuerMismatch => (
                "issuer_mismatch",
                S::UNAUTHORIZED,
                "The token comes from an issuer this deployment does not trust",
            ),
            Reason::AudienceMismatch => (
                "audience_mismatch",
                S::UNAUTHORIZED,
                "The token was issued for another audience",
            ),
            Reason::ClaimMissing => (
                "claim_missing",
                S::UNAUTHORIZED,
                "The token lacks a required claim",
            ),
            Reason::TokenVersionStale => (
                "token_version_stale",
                S::UNAUTHORIZED,
                "The token's version is older than the server's",
            ),
            Reason::TokenRevoked => ("token_revoked", S::UNAUTHORIZED, "The token was revoked"),
            Reason::TokenDecryptionFailed => (
                "token_decryption_failed",
                S::UNAUTHORIZED,
                "The encrypted token cannot be decrypted",
            ),
            Reason::CookieSignatureInvalid => (
                "cookie_signature_invalid",
                S::UNAUTHORIZED,
                "The session token's signature is invalid",
            ),
            Reason::SessionNotFound => ("session_not_found", S::UNAUTHORIZED, "No such session"),
            Reason::SessionExpired => (
                "session_expired",
                S::UNAUTHORIZED,
                "The session has expired",
            ),
            Reason::ApiKeyInvalid => (
                "api_key_invalid",
                S::UNAUTHORIZED,
                "The API key is not valid",
            ),
            Reason::UserNotFound => (
                "user_not_found",
                S::UNAUTHORIZED,
                "The user no longer exists",
            ),
            Reason::Forbidden => ("forbidden", S::FORBIDDEN, "Authenticated, but not allowed"),
            Reason::InsufficientScope => (
                "insufficient_scope",
                S::FORBIDDEN,
                "The credential lacks a required scope",
            ),
            Reason::JwksUnavailable => (
                "jwks_unavailable",
                S::SERVICE_UNAVAILABLE,
                "The issuer's keys could not be loaded",
            ),
            Reason::SessionStoreUnavailable => (
                "session_store_unavailable",
                S::SERVICE_UNAVAILABLE,
                "The session store is unavailable",
            ),
            Reason::AuthServerUnavailable => (
                "auth_server_unavailable",
                S::SERVICE_UNAVAILABLE,
                "The auth server is unavailable",
            ),
            Reason::UserServiceUnavailable => (
                "user_service_unavailable",
                S::SERVICE_UNAVAILABLE,
                "The user service is unavailable",
            ),
            Reason::DatabaseUnavailable => (
                "database_unavailable",
                S::SERVICE_UNAVAILABLE,
                "The database is unavailable",
            ),
            Reason::SchemaOutdated => (
                "schema_outdated",
                S::SERVICE_UNAVAILABLE,
                "The database schema is older than this build",
            ),
            Reason::RequestMalformed => (
                "request_malformed",
                S::BAD_REQUEST,
                "The request is malformed",
            ),
            Reason::ValidationFailed => (
                "validation_failed",
                S::UNPROCESSABLE_ENTITY,
                "The request has invalid fields",
            ),
            Reason::UnsupportedMediaType => (
                "unsupported_media_type",
                S::UNSUPPORTED_MEDIA_TYPE,
                "The body must be JSON",
            ),
            Reason::NotFound => ("not_found", S::NOT_FOUND, "No such resource"),
            Reason::PreconditionFailed => (
                "precondition_failed",
                S::PRECONDITION_FAILED,
                "The resource changed since it was read",
            ),
            Reason::PreconditionRequired => (
                "precondition_required",
                S::PRECONDITION_REQUIRED,
                "An If-Match header is required",
            ),
            Reason::IdempotencyKeyReused => (
                "idempotency_key_reused",
                S::UNPROCESSABLE_ENTITY,
                "The Idempotency-Key was used for a different request",
            ),
            Reason::IdempotencyKeyInUse => (
                "idempotency_key_in_use",
                S::CONFLICT,
                "A request with this Idempotency-Key is in progress",
            ),
            Reason::HeaderInvalid => (
                "header_invalid",
                S::BAD_REQUEST,
                "A request header is invalid",
            ),
            Reason::HeadersTooLarge => (
                "headers_too_large",
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "The request headers are too large",
            ),
            Reason::BodyTooLarge => (
                "body_too_large",
                S::PAYLOAD_TOO_LARGE,
                "The request body is too large",
            ),
            Reason::MethodNotAllowed => (
                "method_not_allowed",
                S::METHOD_NOT_ALLOWED,
                "Method not allowed",
            ),
            Reason::RouteNotFound => ("route_not_found", S::NOT_FOUND, "No such route"),
            Reason::OriginNotAllowed => (
                "origin_not_allowed",
                S::FORBIDDEN,
                "This origin may not call this API",
            ),
            Reason::Misconfigured => (
                "misconfigured",
                S::INTERNAL_SERVER_ERROR,
                "This function is misconfigured",
            ),
            Reason::InternalError => ("internal_error", S::INTERNAL_SERVER_ERROR, "Internal error"),
        }
    }

    pub fn as_str(self) -> &'static str {
        self.info().0
    }

    pub fn status(self) -> StatusCode {
        self.info().1
    }

    /// The short human title of the problem document.
    pub fn title(self) -> &'static str {
        self.info().2
    }
}

/// Why a process could not start serving.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("could not start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("could not listen on {addr}: {source}; is another process using that port?")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{variable} is not set; the Lambda runtime sets it, so run this binary under Lambda or a Runtime API emulator"
    )]
    LambdaEnvironment { variable: &'static str },
    #[error("the {host} host stopped: {message}")]
    Host { host: &'static str, message: String },
}

/// Why one request did not get the answer it asked for.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("malformed request: {detail}")]
    Malformed { detail: String },
    #[error("header {header} is invalid: {detail}")]
    HeaderInvalid {
        header: String,
        detail: &'static str,
    },
    #[error("request headers are {size} bytes, over the {limit}-byte limit")]
    HeadersTooLarge { size: usize, limit: usize },
    #[error("request body is over the {limit}-byte limit")]
    BodyTooLarge { limit: usize },
    #[error("method {method} is not allowed")]
    MethodNotAllowed {
        method: Method,
        allow: &'static [Method],
    },
    #[error("no route matches {path}")]
    RouteNotFound { path: String },
    #[error("origin {origin} may not call this API")]
    OriginNotAllowed { origin: String, configured: bool },
    #[error("function is misconfigured: {0}")]
    Misconfigured(Arc<ConfigErrors>),
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(#[from] DbError),
    #[error("refused ({}): {}", .0.reason.as_str(), .0.detail)]
    Refused(Box<Refusal>),
    #[error("invalid request: {} field(s)", errors.len())]
    Invalid { errors: Vec<FieldError> },
    #[error("unsupported media type {content_type:?}")]
    UnsupportedMediaType { content_type: String },
    #[error("not found: {detail}")]
    NotFound { detail: String },
    #[error("precondition failed: current ETag {current_etag}")]
    PreconditionFailed { current_etag: String },
    #[error("{method} needs If-Match")]
    PreconditionRequired { method: Method },
    #[error("Idempotency-Key reused with a different body")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is in progress")]
    IdempotencyKeyInUse,
    #[error("internal error: {0}")]
    Internal(String),
}

/// One field of a request that failed validation, named as the client
/// sent it (`title`, `limit`, `body` for the document as a whole).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl From<FieldError> for RequestError {
    fn from(error: FieldError) -> Self {
        RequestError::Invalid {
            errors: vec![error],
        }
    }
}

impl From<Refusal> for RequestError {
    fn from(refusal: Refusal) -> Self {
        RequestError::Refused(Box::new(refusal))
    }
}

impl RequestError {
    pub fn reason(&self) -> Reason {
        match self {
            RequestError::Malformed { .. } => Reason::RequestMalformed,
            RequestError::HeaderInvalid { .. } => Reason::HeaderInvalid,
            RequestError::HeadersTooLarge { .. } => Reason::HeadersTooLarge,
            RequestError::BodyTooLarge { .. } => Reason::BodyTooLarge,
            RequestError::MethodNotAllowed { .. } => Reason::MethodNotAllowed,
            RequestError::RouteNotFound { .. } => Reason::RouteNotFound,
            RequestError::OriginNotAllowed { .. } => Reason::OriginNotAllowed,
            RequestError::Misconfigured(_) => Reason::Misconfigured,
            RequestError::DatabaseUnavailable(err) if err.is_schema_outdated() => {
                Reason::SchemaOutdated
            }
            RequestError::DatabaseUnavailable(_) => Reason::DatabaseUnavailable,
            RequestError::Refused(refusal) => refusal.reason,
            RequestError::Invalid { .. } => Reason::ValidationFailed,
            RequestError::UnsupportedMediaType { .. } => Reason::UnsupportedMediaType,
            RequestError::NotFound { .. } => Reason::NotFound,
            RequestError::PreconditionFailed { .. } => Reason::PreconditionFailed,
            RequestError::PreconditionRequired { .. } => Reason::PreconditionRequired,
            RequestError::IdempotencyKeyReused => Reason::IdempotencyKeyReused,
            RequestError::IdempotencyKeyInUse => Reason::IdempotencyKeyInUse,
            RequestError::Internal(_) => Reason::InternalError,
        }
    }

    /// The response body for this failure. `shows_details` is false in
    /// production, where variable names and internals stay in the log.
    pub fn to_problem(&self, shows_details: bool) -> Problem {
        let problem = Problem::new(self.reason());
        match self {
            RequestError::Malformed { detail } => problem.detail(detail.clone()),
            RequestError::HeaderInvalid { header, detail } => problem
                .detail(format!("header `{header}` {detail}"))
                .hint("send header values as UTF-8 text"),
            RequestError::HeadersTooLarge { size, limit } => problem
                .detail(format!(
                    "the request headers are {size} bytes; the limit is {limit}"
                ))
                .hint("send fewer or smaller cookies and headers"),
            RequestError::BodyTooLarge { limit } => {
                problem.detail(format!("the request body is over the {limit}-byte limit"))
            }
            RequestError::MethodNotAllowed { method, allow } => problem
                .detail(format!(
                    "{method} is not allowed here; allowed: {}",
                    allow_list(allow)
                ))
                .allow(allow),
            RequestError::RouteNotFound { path } => {
                problem.detail(format!("no function serves {path}"))
            }
            RequestError::OriginNotAllowed { origin, configured } => {
                let problem = problem.detail(format!(
                    "{origin} is not an origin this API accepts credentialed calls from"
                ));
                if !shows_details {
                    problem
                } else if *configured {
                    problem.hint(format!("if {origin} is your frontend, add it (or a pattern covering it, e.g. for preview deployments) to CORS_ORIGINS; pages of other sites stay refused, since a cross-site write with the user's cookies is how request forgery works"))
                } else {
                    problem.hint(format!("CORS_ORIGINS is not set, so no browser origin may call this API: if {origin} is your frontend, set CORS_ORIGINS={origin}; pages of other sites stay refused"))
                }
            }
            RequestError::Misconfigured(errors) => {
                let problem = problem.detail(format!(
                    "this function found {} configuration problem(s) at cold start and cannot serve; the log has the details",
                    errors.problems.len()
                ));
                if shows_details {
                    problem.extension("problems", json!(errors.problems))
                } else {
                    problem.hint("see the `configuration invalid` event in this function's log")
                }
            }
            RequestError::DatabaseUnavailable(err) => {
                let problem = problem.detail(err.public_detail());
                // The fix for an unmigrated database names no secret or
                // host, so production shows it too.
                if shows_details || err.is_schema_outdated() {
                    problem.hint(err.hint())
                } else {
                    problem
                }
            }
            RequestError::Refused(refusal) => refusal.to_problem(shows_details),
            RequestError::Invalid { errors } => problem
                .detail(
                    errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.problem))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
                .hint("correct the named fields and send the request again")
                .extension("errors", json!(errors)),
            RequestError::UnsupportedMediaType { content_type } => problem
                .detail(format!("the body was sent as {content_type:?}"))
                .hint("send the body as JSON with Content-Type: application/json"),
            RequestError::NotFound { detail } => problem.detail(detail.clone()),
            RequestError::PreconditionFailed { current_etag } => problem
                .detail(format!("the resource was changed by another request; its ETag is now {current_etag}"))
                .hint("GET it again, reapply your change to what you get, and send that ETag in If-Match")
                .header("etag", current_etag),
            RequestError::PreconditionRequired { method } => problem
                .detail(format!("{method} needs an If-Match header, so that two clients never overwrite each other's changes unseen"))
                .hint("send If-Match with the ETag from the last GET (or If-Match: * to overwrite whatever is there)"),
            RequestError::IdempotencyKeyReused => problem
                .detail("this Idempotency-Key was first used with a different body")
                .hint("use a new Idempotency-Key for each distinct request; reuse one only to retry the very same request"),
            RequestError::IdempotencyKeyInUse => problem
                .detail("another request with this Idempotency-Key has not finished")
                .hint("retry after a moment: the first request's result will then be replayed")
                .header("retry-after", "1"),
            RequestError::Internal(_) => problem.detail(
                "an unexpected error occurred; the log has the details, under this request id",
            ),
        }
    }
}

pub(crate) fn allow_list(allow: &[Method]) -> String {
    let mut list: Vec<&str> = allow.iter().map(Method::as_str).collect();
    if allow.contains(&Method::GET) {
        list.push("HEAD");
    }
    list.push("OPTIONS");
    list.join(", ")
}
