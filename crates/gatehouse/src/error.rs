//! Errors, split by phase: [`StartupError`] stops a process before it serves;
//! [`RequestError`] ends one request. [`RequestError::to_problem`] is the only
//! place a failure becomes an HTTP status and body.

use std::sync::Arc;

use http::Method;
use serde_json::json;

use crate::auth::refusal::Refusal;
use crate::config::ConfigErrors;
use crate::db::DbError;
use crate::http::problem::Problem;

pub use crate::reason::{Reason, ReasonDoc};

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
                    crate::http::problem::allow_list(allow)
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
