//! Attacks from the security review (issue 12), each performed against the
//! real binaries and seen refused.

use serde_json::json;

use crate::auth::{bearer, unique_secret};
use crate::lambda_host::http_api_v2;
use crate::support::db::TestDb;
use crate::support::function::{Process, VercelFunction, block_on, start_dev};
use crate::support::http_client::{get, send};
use crate::support::lambda_emulator::LambdaEmulator;
use crate::support::mint::{jose, secret_spec};

const DEBUG_SESSION: &str = env!("CARGO_BIN_EXE_debug-session");

/// Neither `ENVIRONMENT` nor `VERCEL_ENV` (Lambda; Vercel without system
/// variables): a platform-started function is production, so the debug route
/// that would show the secret's fingerprint and the expected issuers to
/// anyone is not there, and the cold-start log says why and what to set.
#[test]
fn a_deployed_function_without_an_environment_runs_as_production() {
    let secret = unique_secret("no-environment");
    let env = [("JWT_SECRET", secret.as_str()), ("LOG_FORMAT", "json")];

    let function = VercelFunction::start_as_deployed(DEBUG_SESSION, &env);
    get(function.addr(), "/api/debug/session", &[]).assert_problem(404, "route_not_found");
    let logs = function.process.stderr();
    assert!(
        logs.contains("Vercel started this function: it runs as production")
            && logs.contains("ENVIRONMENT=production"),
        "the cold-start log says so, with the fix:\n{logs}"
    );

    let mut emulator = LambdaEmulator::start();
    let mut lambda_env = emulator.function_env();
    lambda_env.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let lambda_env: Vec<(&str, &str)> = lambda_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut lambda = Process::spawn(DEBUG_SESSION, &[], &lambda_env);
    let id = emulator.invoke(http_api_v2("GET", "/api/debug/session", None));
    let response = emulator.response(&id, &mut lambda);
    assert_eq!(response["statusCode"], 404, "{response}");
    assert!(
        lambda.stderr().contains("AWS Lambda started this function"),
        "{}",
        lambda.report()
    );

    // `gatehouse dev` is development without being told.
    let (_dev, addr) = start_dev(&[("JWT_SECRET", secret.as_str())]);
    let response = get(addr, "/api/debug/session", &[]);
    assert_eq!(response.status, 200, "{response}");
    assert_eq!(
        response.json()["environment"],
        json!("development"),
        "{response}"
    );
}

/// NumericDates at the edges of what JSON can say, in a debug build (as
/// `vercel dev` runs the functions, where an overflow panics): every one is a
/// clear `token_malformed`, token-health's `expires_in` never wraps, and the
/// process keeps serving.
#[test]
fn extreme_token_dates_are_refused_without_overflow() {
    let secret = unique_secret("dates");
    let now = crate::auth::now();
    let cases = [
        json!({ "sub": "alice", "exp": -1e300 }),
        json!({ "sub": "alice", "exp": 1e300 }),
        json!({ "sub": "alice", "exp": 9.3e18 }),
        json!({ "sub": "alice", "exp": -9.3e18 }),
        json!({ "sub": "alice", "exp": 253_402_300_800i64 }),
        json!({ "sub": "alice", "exp": now + 600, "nbf": -1e300 }),
        json!({ "sub": "alice", "exp": now + 600, "iat": 1e300 }),
        json!({ "sub": "alice", "exp": now + 600, "iat": -9.3e18 }),
    ];
    let specs: Vec<_> = cases
        .iter()
        .map(|claims| secret_spec("HS256", &secret, claims))
        .collect();
    let tokens = jose(&specs);
    let env = [("JWT_SECRET", secret.as_str())];
    let mut session = crate::auth::start(crate::auth::AUTH_SESSION, &env);
    let mut health = crate::auth::start(crate::auth::AUTH_TOKEN_HEALTH, &env);
    for (claims, token) in cases.iter().zip(&tokens) {
        let authorization = bearer(token);
        let headers = [("authorization", authorization.as_str())];
        get(session.addr(), crate::auth::SESSION, &headers).assert_problem(401, "token_malformed");
        let response = get(health.addr(), crate::auth::TOKEN_HEALTH, &headers);
        assert_eq!(response.status, 200, "{claims}: {response}");
        let body = response.json();
        assert_eq!(body["reason"], "token_malformed", "{claims}: {body}");
        // An expiry is reported only from a date in range, and never wraps.
        match body["expires_in"].as_i64() {
            Some(left) => assert!((0..=600).contains(&left), "{claims}: {body}"),
            None => assert!(body["expires_in"].is_null(), "{claims}: {body}"),
        }
        assert!(
            body["detail"].as_str().unwrap_or_default().len() < 200,
            "{claims}: the detail stays short: {body}"
        );
    }
    // The last second of year 9999 is a date: the token is accepted.
    let far = jose(&[secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "alice", "exp": 253_402_300_799i64 }),
    )]);
    let authorization = bearer(&far[0]);
    let response = get(
        health.addr(),
        crate::auth::TOKEN_HEALTH,
        &[("authorization", authorization.as_str())],
    );
    assert_eq!(response.json()["authenticated"], true, "{response}");
    assert!(
        response.json()["expires_in"].as_i64().unwrap_or(0) > 0,
        "{response}"
    );
    for function in [&mut session, &mut health] {
        function.process.assert_running();
        assert!(
            !function.process.stderr().contains("panicked"),
            "{}",
            function.process.report()
        );
    }
}

/// In production, a refusal does not tell a stranger which cookies this API
/// reads; outside production the hint names them, to help the developer.
#[test]
fn the_production_missing_credentials_hint_lists_no_cookie_names() {
    let secret = unique_secret("cookie-names");
    for (environment, shows) in [("production", false), ("development", true)] {
        let function = crate::auth::start(
            crate::auth::AUTH_SESSION,
            &[
                ("JWT_SECRET", secret.as_str()),
                ("ENVIRONMENT", environment),
            ],
        );
        let response = get(
            function.addr(),
            crate::auth::SESSION,
            &[("cookie", "myapp.session=abc")],
        );
        let body = response.assert_problem(401, "credentials_missing");
        assert_eq!(
            body.to_string().contains("better-auth.session_token"),
            shows,
            "{environment}: {response}"
        );
    }
}

/// `/api/auth/exchange` hands a page a readable bearer token, so it answers
/// a cross-origin browser only where `CORS_ORIGINS` allows that origin:
/// from anywhere else the write guard refuses it before any session exists.
#[test]
fn exchange_answers_only_allowed_origins() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = unique_secret("exchange-origin");
    let (_dev, addr) = start_dev(&[
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", secret.as_str()),
        ("CORS_ORIGINS", "https://app.example.com"),
    ]);
    let token = jose(&[secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": crate::auth::now() + 600 }),
    )])
    .remove(0);
    let authorization = bearer(&token);
    for stranger in ["https://myapp-pwn-acme.vercel.app", "null"] {
        let response = send(
            addr,
            "POST",
            "/api/auth/exchange",
            &[
                ("authorization", authorization.as_str()),
                ("origin", stranger),
            ],
            "",
        );
        response.assert_problem(403, "origin_not_allowed");
        assert_eq!(response.header("access-control-allow-origin"), None);
    }
    assert_eq!(
        block_on(db.count("SELECT count(*) FROM gatehouse_sessions")),
        0,
        "no session was created for a stranger's page"
    );
    let allowed = send(
        addr,
        "POST",
        "/api/auth/exchange",
        &[
            ("authorization", authorization.as_str()),
            ("origin", "https://app.example.com"),
        ],
        "",
    );
    assert_eq!(allowed.status, 201, "{allowed}");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

/// The attack: with two issuers, issuer B's `sub: user-42` listed issuer A's
/// `user-42` tasks and B's sign-out-everywhere signed A's user out; a token
/// minted with `sub: api_key:<uuid>` reached that API key's tasks. Every
/// stored identity is now (namespace, subject): each issuer's own name.
#[test]
fn one_subject_under_two_issuers_is_two_users() {
    use crate::auth::{KID_P256, KID_RSA, jwk, spec};
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let issuers = json!([
        {
            "name": "issuer-a",
            "issuer": "https://a.example",
            "public_keys": json!({ "keys": [jwk(KID_RSA)] }).to_string(),
            "audiences": ["https://api.example"]
        },
        {
            "name": "issuer-b",
            "issuer": "https://b.example",
            "public_keys": json!({ "keys": [jwk(KID_P256)] }).to_string(),
            "audiences": ["https://api.example"]
        }
    ])
    .to_string();
    let (_dev, addr) = start_dev(&[
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_TRUSTED_ISSUERS", issuers.as_str()),
    ]);
    let now = crate::auth::now();
    let claims = |iss: &str, sub: &str| json!({ "iss": iss, "aud": "https://api.example", "sub": sub, "iat": now - 5, "exp": now + 600 });
    let key_id = uuid::Uuid::new_v4();
    let tokens = jose(&[
        spec("RS256", KID_RSA, &claims("https://a.example", "user-42")),
        spec("ES256", KID_P256, &claims("https://b.example", "user-42")),
        spec(
            "RS256",
            KID_RSA,
            &claims("https://a.example", &format!("api_key:{key_id}")),
        ),
    ]);
    let (a, b, forged) = (bearer(&tokens[0]), bearer(&tokens[1]), bearer(&tokens[2]));
    let call = |method: &str, path: &str, auth: &str, body: &str| {
        let mut headers = vec![("authorization", auth)];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        send(addr, method, path, &headers, body)
    };

    let created = call("POST", "/api/tasks", &a, r#"{"title":"A's task"}"#);
    assert_eq!(created.status, 201, "{created}");
    let task = created.json()["id"].as_str().unwrap().to_owned();
    let listed = call("GET", "/api/tasks", &b, "");
    assert_eq!(
        listed.json()["items"],
        json!([]),
        "B sees none of A's tasks: {listed}"
    );
    call("GET", &format!("/api/tasks/{task}"), &b, "").assert_problem(404, "not_found");
    assert_eq!(
        block_on(db.count("SELECT count(*) FROM gatehouse_tasks WHERE owner = 'issuer-a:user-42'")),
        1
    );

    // B signs out everywhere: A's user is untouched.
    let revoked = call("POST", "/api/auth/revoke?all=true", &b, "");
    assert_eq!(revoked.status, 200, "{revoked}");
    let session = call("GET", "/api/auth/session", &a, "");
    assert_eq!(session.status, 200, "A is still signed in: {session}");
    assert_eq!(session.json()["principal"]["namespace"], "issuer-a");
    call("GET", "/api/auth/session", &b, "").assert_problem(401, "token_revoked");

    // A token naming an API key's subject is a user of issuer A, nothing more.
    block_on(db.execute(&format!(
        "INSERT INTO gatehouse_tasks (id, owner, title) VALUES (gen_random_uuid(), 'api-key:{key_id}', 'the key''s task')"
    )));
    let listed = call("GET", "/api/tasks", &forged, "");
    assert_eq!(listed.status, 200, "{listed}");
    assert_eq!(listed.json()["items"], json!([]), "{listed}");
}
