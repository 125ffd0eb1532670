//! Request and response plumbing shared by every host.

pub mod cors;
pub mod problem;
pub mod public_suffix;
pub mod request;
pub mod same_site;
pub mod types;

pub use types::{Body, Request, Response};

/// Builds a JSON response. Serialization of our own types cannot fail; if it
/// somehow did, the client gets a 500 problem rather than a panic.
pub fn json_response(status: http::StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = http::Response::new(Body::from(body));
            *response.status_mut() = status;
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response.headers_mut().insert(
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(_) => problem::Problem::new(crate::Reason::InternalError).into_response(None),
    }
}
