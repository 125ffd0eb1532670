//! CORS for browser frontends on other origins.
//!
//! Only origins listed in `CORS_ORIGINS` (exact, or safe patterns for preview
//! deployments) get CORS headers, always with credentials allowed, the origin
//! echoed and `Vary: Origin`: never `*`, which browsers refuse with
//! credentials anyway. A preflight from any other origin is answered 403
//! `origin_not_allowed`, whose body says what to add.
//!
//! Writes are also guarded against cross-site request forgery: a browser
//! sends cookies with a cross-site form `POST` without any preflight, so a
//! request with an unsafe method whose `Origin` is neither this host nor an
//! allowed origin is refused before any handler runs (the OWASP "verify
//! origin" defence). Requests without `Origin` (servers, curl) pass: only
//! browsers send it, and they always do on cross-origin writes.

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
    let allow_methods = crate::http::problem::allow_list(methods);
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

/// The `Origin` of a write (`POST`, `PATCH`, `DELETE`, ...) that neither
/// this host nor `CORS_ORIGINS` allows: a likely forgery, to be refused.
pub fn forged_write<'h>(
    origins: &PatternList,
    method: &Method,
    headers: &'h HeaderMap,
) -> Option<&'h str> {
    if method.is_safe() {
        return None;
    }
    let origin = headers.get(header::ORIGIN)?;
    let origin = origin.to_str().unwrap_or("(not text)");
    // `null` comes from sandboxed frames and file: pages: never ours.
    let own_host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|host| {
            origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
        });
    (!own_host && !origins.matches(origin)).then_some(origin)
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
    fn cross_site_writes_are_forgeries_unless_allowed() {
        let headers = |origin: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_static("api.example.com"));
            h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
            h
        };
        let post = Method::POST;
        let evil = headers("https://evil.example");
        assert_eq!(
            forged_write(&origins(), &post, &evil),
            Some("https://evil.example")
        );
        assert_eq!(forged_write(&origins(), &Method::GET, &evil), None);
        assert_eq!(
            forged_write(&origins(), &post, &headers("null")),
            Some("null")
        );
        assert_eq!(
            forged_write(&origins(), &post, &headers("https://api.example.com")),
            None
        );
        assert_eq!(
            forged_write(&origins(), &post, &headers("https://app.example.com")),
            None
        );
        assert_eq!(forged_write(&origins(), &post, &HeaderMap::new()), None);
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
