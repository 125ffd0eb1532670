//! CORS through the real `auth-session` binary: only the origins in
//! `CORS_ORIGINS` (an exact one and a preview pattern under a domain the
//! deployer owns) are answered with their own origin echoed and credentials
//! allowed, never `*`; a preflight from anywhere else is refused with
//! `origin_not_allowed`. A wildcard anyone can register under (a public
//! suffix such as `vercel.app`) never grants credentialed access.

use serde_json::json;

use super::*;
use crate::support::function::READY_TIMEOUT;
use crate::support::http_client::{Response, exchange, get, request};
use crate::support::jwks_server::{JwksServer, Reply};
use crate::support::mint::jose_one;

const EXACT: &str = "https://app.example.com";
const PREVIEW: &str = "https://*.preview.example.com";

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

    for origin in [EXACT, "https://feature-x.preview.example.com"] {
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
        "https://x.preview.example.com.evil.com",
        "https://a.b.preview.example.com",
        "https://preview.example.com.vercel.app",
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

    let preview = "https://pr-7.preview.example.com";
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

/// The attack: `CORS_ORIGINS=https://myapp-*-acme.vercel.app` let a stranger
/// name a Vercel project `myapp-pwn-acme`, pass the preflight with
/// credentials and trade the user's cookie for a readable `gs_` token at
/// `/api/auth/exchange`. Such a pattern (or `*.vercel.app`, `*.com`,
/// `a*.co.uk`) is now a configuration error: the function grants nothing.
/// Outside production, a loudly named opt-in keeps it, with a warning.
#[test]
fn wildcards_under_a_public_suffix_never_grant_credentials_in_production() {
    let server = JwksServer::start(Reply::jwks(&standard_keys()));
    let stranger = "https://myapp-pwn-acme.vercel.app";
    for pattern in [
        "https://myapp-*-acme.vercel.app",
        "https://*.vercel.app",
        "https://*.com",
        "https://a*.co.uk",
    ] {
        for environment in ["production", "preview"] {
            let mut function = start_with_jwks(
                AUTH_SESSION,
                &server.url(),
                &[("CORS_ORIGINS", pattern), ("ENVIRONMENT", environment)],
            );
            // The preflight grants nothing, so a browser sends nothing.
            let response = preflight(&function, stranger);
            assert_eq!(
                response.header("access-control-allow-origin"),
                None,
                "{response}"
            );
            assert_eq!(response.header("access-control-allow-credentials"), None);
            let response = get(function.addr(), SESSION, &[("origin", stranger)]);
            assert_eq!(
                response.status, 500,
                "{pattern} ({environment}): {response}"
            );
            assert_eq!(response.json()["reason"], "misconfigured", "{response}");
            assert_eq!(response.header("access-control-allow-origin"), None);
            // Waited for: the reader thread may not have taken it in yet.
            let logs = function
                .process
                .wait_stderr_line("configuration invalid", READY_TIMEOUT);
            assert!(
                logs.contains("public suffix") || logs.contains("whole domain"),
                "{pattern}: the log names why:\n{logs}"
            );
        }
    }

    // The opt-in, outside production only: the old behaviour, with a warning.
    let function = start_with_jwks(
        AUTH_SESSION,
        &server.url(),
        &[
            ("CORS_ORIGINS", "https://myapp-*-acme.vercel.app"),
            ("ENVIRONMENT", "preview"),
            ("CORS_UNSAFE_PUBLIC_SUFFIX_WILDCARDS", "true"),
        ],
    );
    let response = preflight(&function, stranger);
    assert_eq!(response.status, 204, "{response}");
    assert!(
        function
            .process
            .stderr()
            .contains("CORS_UNSAFE_PUBLIC_SUFFIX_WILDCARDS is set")
    );
    let function = start_with_jwks(
        AUTH_SESSION,
        &server.url(),
        &[
            ("CORS_ORIGINS", "https://myapp-*-acme.vercel.app"),
            ("ENVIRONMENT", "production"),
            ("CORS_UNSAFE_PUBLIC_SUFFIX_WILDCARDS", "true"),
        ],
    );
    assert_eq!(
        preflight(&function, stranger).header("access-control-allow-origin"),
        None
    );
    assert_eq!(get(function.addr(), SESSION, &[]).status, 500);

    // The safe way to allow a preview: this deployment's own exact hosts,
    // from Vercel's system variables.
    let function = start_with_jwks(
        AUTH_SESSION,
        &server.url(),
        &[
            (
                "CORS_ORIGINS",
                "https://app.example.com,https://{VERCEL_BRANCH_URL}",
            ),
            ("ENVIRONMENT", "production"),
            ("VERCEL_BRANCH_URL", "myapp-git-feature-acme.vercel.app"),
        ],
    );
    let own = "https://myapp-git-feature-acme.vercel.app";
    assert_eq!(
        preflight(&function, own).header("access-control-allow-origin"),
        Some(own)
    );
    preflight(&function, stranger).assert_problem(403, "origin_not_allowed");
}
