//! `GET /api/openapi.json`: the OpenAPI 3.1 document describing every route,
//! request, response and problem body. Written by hand in
//! `openapi.json` and embedded at build time;
//! `tests/integration/openapi.rs` keeps it true to the route table and the
//! reason codes, and runs schemathesis against `gatehouse dev` with it.

use http::{HeaderValue, StatusCode, header};

use gatehouse::http::{Body, Response};
use gatehouse::route::{Ctx, HandlerFuture};

/// The document, as served.
pub(super) const DOCUMENT: &str = include_str!("../../openapi.json");

pub(super) fn document(_ctx: Ctx) -> HandlerFuture {
    Box::pin(async {
        let mut response = Response::new(Body::from_static(DOCUMENT.as_bytes()));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // The same for every caller, and it changes only with a deploy.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        Ok(response)
    })
}
