//! Errors, split by phase: [`StartupError`] stops a process before it serves;
//! [`RequestError`] ends one request. [`RequestError::to_problem`] is the only
//! place a failure becomes an HTTP status and body.

use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::json;

use crate::config::ConfigErrors;
use crate::db::DbError;
use crate::http::problem::Problem;

/// The stable, documented codes a response carries in `reason` and
/// `X-Auth-Reason`. Renaming one is a breaking change: clients match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    RequestMalformed,
    HeaderInvalid,
    HeadersTooLarge,
    BodyTooLarge,
    MethodNotAllowed,
    RouteNotFound,
    Misconfigured,
    DatabaseUnavailable,
    SchemaOutdated,
    InternalError,
}

impl Reason {
    pub const ALL: &'static [Reason] = &[
        Reason::RequestMalformed,
        Reason::HeaderInvalid,
        Reason::HeadersTooLarge,
        Reason::BodyTooLarge,
        Reason::MethodNotAllowed,
        Reason::RouteNotFound,
        Reason::Misconfigured,
        Reason::DatabaseUnavailable,
        Reason::SchemaOutdated,
        Reason::InternalError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::RequestMalformed => "request_malformed",
            Reason::HeaderInvalid => "header_invalid",
            Reason::HeadersTooLarge => "headers_too_large",
            Reason::BodyTooLarge => "body_too_large",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::RouteNotFound => "route_not_found",
            Reason::Misconfigured => "misconfigured",
            Reason::DatabaseUnavailable => "database_unavailable",
            Reason::SchemaOutdated => "schema_outdated",
            Reason::InternalError => "internal_error",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Reason::RequestMalformed | Reason::HeaderInvalid => StatusCode::BAD_REQUEST,
            Reason::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Reason::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reason::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Reason::RouteNotFound => StatusCode::NOT_FOUND,
            Reason::Misconfigured | Reason::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Reason::DatabaseUnavailable | Reason::SchemaOutdated => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The short human title of the problem document.
    pub fn title(self) -> &'static str {
        match self {
            Reason::RequestMalformed => "The request is malformed",
            Reason::HeaderInvalid => "A request header is invalid",
            Reason::HeadersTooLarge => "The request headers are too large",
            Reason::BodyTooLarge => "The request body is too large",
            Reason::MethodNotAllowed => "Method not allowed",
            Reason::RouteNotFound => "No such route",
            Reason::Misconfigured => "This function is misconfigured",
            Reason::DatabaseUnavailable => "The database is unavailable",
            Reason::SchemaOutdated => "The database schema is older than this build",
            Reason::InternalError => "Internal error",
        }
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
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    #[error(transparent)]
    Database(#[from] DbError),
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
    #[error("function is misconfigured: {0}")]
    Misconfigured(Arc<ConfigErrors>),
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(#[from] DbError),
    #[error("internal error: {0}")]
    Internal(String),
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
            RequestError::Misconfigured(_) => Reason::Misconfigured,
            RequestError::DatabaseUnavailable(
                DbError::MigrationChanged { .. } | DbError::SchemaBehind { .. },
            ) => Reason::SchemaOutdated,
            RequestError::DatabaseUnavailable(_) => Reason::DatabaseUnavailable,
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
                if shows_details {
                    problem.hint(err.hint())
                } else {
                    problem
                }
            }
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
