//! CORS for browser frontends on other origins.
//!
//! Only origins listed in `CORS_ORIGINS` (exact, or safe patterns for preview
//! deployments) get CORS headers, always with credentials allowed, the origin
//! echoed and `Vary: Origin`: never `*`, which browsers refuse with
//! credentials anyway. A preflight from any other origin is answered 403
//! `origin_not_allowed`, whose body says what to add.

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::auth::pattern::PatternList;
use crate::error::RequestError;
use crate::http::{Body, Response};

/// Request headers a frontend may send.
const ALLOWED_HEADERS: &str =
    "authorization, content-type, if-match, idempotency-key, x-api-key, x-request-id";
/// Response headers a frontend may read: the diagnostics.
const EXPOSED_HEADERS: &str = "x-request-id, x-auth-reason, www-authenticate, etag";
const MAX_AGE_SECS: &str = "600";

pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a preflight for a route taking `methods`.
pub fn preflight(
    origins: &PatternList,
    headers: &HeaderMap,
    methods: &[Method],
) -> Result<Response, RequestError> {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !origins.matches(origin) {
        return Err(RequestError::OriginNotAllowed {
            origin: origin.to_owned(),
            configured: !origins.is_empty(),
        });
    }
    let mut response = http::Response::new(Body::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let allow_methods = crate::error::allow_list(methods);
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    allow_origin(h, origin);
    if let Ok(value) = HeaderValue::from_str(&allow_methods) {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, value);
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE_SECS),
    );
    Ok(response)
}

/// Adds CORS headers to an actual response when the request's origin is
/// allowed; otherwise only `Vary: Origin`, so caches keep the answers apart.
pub fn decorate(origins: &PatternList, origin: Option<&str>, response: &mut Response) {
    let headers = response.headers_mut();
    let varies_by_origin = headers.get_all(header::VARY).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("origin"))
    });
    if !varies_by_origin {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    if let Some(origin) = origin
        && origins.matches(origin)
    {
        allow_origin(headers, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}

fn allow_origin(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins() -> PatternList {
        PatternList::parse("https://app.example.com, https://myapp-*-team.vercel.app").unwrap()
    }

    fn preflight_headers(origin: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        headers.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("GET"),
        );
        headers
    }

    #[test]
    fn allowed_origins_are_echoed_with_credentials() {
        let response = preflight(
            &origins(),
            &preflight_headers("https://myapp-git-x-team.vercel.app"),
            &[Method::GET],
        )
        .unwrap();
        let h = response.headers();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://myapp-git-x-team.vercel.app"
        );
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(h[header::VARY], "Origin");
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET, HEAD, OPTIONS"
        );
    }

    #[test]
    fn other_origins_are_refused_and_never_wildcarded() {
        let err = preflight(
            &origins(),
            &preflight_headers("https://evil.example.net"),
            &[Method::GET],
        )
        .unwrap_err();
        assert!(matches!(err, RequestError::OriginNotAllowed { .. }));
        let mut response = http::Response::new(Body::new());
        decorate(&origins(), Some("https://evil.example.net"), &mut response);
        assert!(
            response
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
        assert_eq!(response.headers()[header::VARY], "Origin");
        let mut response = http::Response::new(Body::new());
        decorate(&origins(), Some("https://app.example.com"), &mut response);
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
    }
}
