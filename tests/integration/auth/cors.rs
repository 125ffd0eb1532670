//! CORS through the real `auth-session` binary: only the origins in
//! `CORS_ORIGINS` (an exact one and a preview pattern) are answered with
//! their own origin echoed and credentials allowed, never `*`; a preflight
//! from anywhere else is refused with `origin_not_allowed`.

use serde_json::json;

use super::*;
use crate::support::http_client::{Response, exchange, get, request};
use crate::support::jwks_server::{JwksServer, Reply};
use crate::support::mint::jose_one;

const EXACT: &str = "https://app.example.com";
const PREVIEW: &str = "https://myapp-*-team.vercel.app";

#[track_caller]
fn preflight(function: &crate::support::function::VercelFunction, origin: &str) -> Response {
    exchange(
        function.addr(),
        &request(
            "OPTIONS",
            SESSION,
            &[
                ("origin", origin),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "authorization"),
            ],
        ),
    )
}

#[track_caller]
fn assert_no_wildcard(response: &Response) {
    for (name, value) in &response.headers {
        if name.to_ascii_lowercase().starts_with("access-control-") {
            assert_ne!(value.trim(), "*", "{name}: never `*`: {response}");
        }
    }
}

#[test]
fn allowed_origins_are_echoed_with_credentials_and_others_refused() {
    let server = JwksServer::start(Reply::jwks(&standard_keys()));
    let origins = format!("{EXACT}, {PREVIEW}");
    let function = start_with_jwks(AUTH_SESSION, &server.url(), &[("CORS_ORIGINS", &origins)]);

    for origin in [EXACT, "https://myapp-git-feature-x-team.vercel.app"] {
        let response = preflight(&function, origin);
        assert_eq!(response.status, 204, "{origin}: {response}");
        assert_eq!(response.header("access-control-allow-origin"), Some(origin));
        assert_eq!(
            response.header("access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(response.header("vary"), Some("Origin"), "{response}");
        assert_eq!(
            response.header("access-control-allow-methods"),
            Some("GET, HEAD, OPTIONS")
        );
        assert!(
            response
                .header("access-control-allow-headers")
                .unwrap_or_default()
                .contains("authorization"),
            "{response}"
        );
        assert_no_wildcard(&response);
    }

    for origin in [
        "https://evil.example.net",
        "https://myapp-x-team.vercel.app.evil.com",
        "https://myapp-a.b-team.vercel.app",
        "http://app.example.com",
        "null",
    ] {
        let response = preflight(&function, origin);
        let body = response.assert_problem(403, "origin_not_allowed");
        assert_eq!(
            response.header("access-control-allow-origin"),
            None,
            "{response}"
        );
        assert_eq!(
            response.header("access-control-allow-credentials"),
            None,
            "{response}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains(origin),
            "{response}"
        );
        assert!(
            body["hint"].as_str().unwrap().contains("CORS_ORIGINS"),
            "{response}"
        );
        assert_no_wildcard(&response);
    }

    // Actual requests: the allowed origin can read the answer and the
    // diagnostic headers, refusals included.
    let token = jose_one(spec("EdDSA", KID_ED_A, &claims("cors-user")));
    let response = get(
        function.addr(),
        SESSION,
        &[("origin", EXACT), ("authorization", &bearer(&token))],
    );
    assert_eq!(assert_accepted(&response)["subject"], "cors-user");
    assert_eq!(response.header("access-control-allow-origin"), Some(EXACT));
    assert_eq!(
        response.header("access-control-allow-credentials"),
        Some("true")
    );
    let exposed = response
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_owned();
    for header in ["x-request-id", "x-auth-reason", "www-authenticate"] {
        assert!(exposed.contains(header), "{header} exposed: {response}");
    }
    assert!(
        response
            .headers
            .iter()
            .any(|(name, value)| name.eq_ignore_ascii_case("vary") && value.contains("Origin")),
        "{response}"
    );

    let preview = "https://myapp-pr-7-team.vercel.app";
    let response = get(function.addr(), SESSION, &[("origin", preview)]);
    assert_refused(&response, "credentials_missing", &[], &[]);
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some(preview)
    );
    assert!(
        response
            .header("access-control-expose-headers")
            .unwrap_or_default()
            .contains("x-auth-reason")
    );

    // Another origin gets the answer (the browser withholds it) without any
    // CORS grant.
    let response = get(
        function.addr(),
        SESSION,
        &[
            ("origin", "https://evil.example.net"),
            ("authorization", &bearer(&token)),
        ],
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.header("access-control-allow-origin"), None);
    assert_eq!(response.header("access-control-allow-credentials"), None);
    assert_eq!(response.header("access-control-expose-headers"), None);
    assert_no_wildcard(&response);
    assert_eq!(response.json()["authenticated"], json!(true));
}
