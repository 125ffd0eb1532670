//! Real failure stories, end to end: each sets up the mistake teams make,
//! then asserts that the 401 itself, `gatehouse doctor` or `gatehouse
//! explain` names the cause and the fix. Tokens come from real issuers (a
//! Better Auth server, `jose`), and the functions are the compiled binaries.

use std::process::Output;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::auth::better_auth::{BetterAuth, sign_up_and_in};
use crate::auth::{
    AUDIENCE, AUTH_SESSION, ISSUER, KID_RSA, assert_accepted, assert_refused, bearer, claims, now,
    session_with, spec, standard_keys, start, start_with_jwks, unique_secret, with,
};
use crate::support::chromium::{SiteReply, Sites, browse, chromium, names, requests, step};
use crate::support::db::TestDb;
use crate::support::function::{block_on, run_cli, start_dev};
use crate::support::http_client::get;
use crate::support::jwks_server::{JwksServer, Reply, refused_url};
use crate::support::mint::{jose_one, secret_spec};

/// `gatehouse <args> --json` with only `env`: the exit code and the report.
fn cli_json(args: &[&str], env: &[(&str, &str)], stdin: &str) -> (Option<i32>, Value, String) {
    let output: Output = run_cli(args, env, stdin);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let report =
        serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("not JSON ({err}): {all}"));
    (output.status.code(), report, all)
}

/// `gatehouse doctor --json <args>`: the exit code and the findings.
fn doctor(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Vec<Value>, String) {
    let mut full = vec!["doctor", "--json"];
    full.extend_from_slice(args);
    let (code, report, all) = cli_json(&full, env, "");
    let findings = report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings: {all}"))
        .clone();
    (code, findings, all)
}

/// The findings of `area` at `level`, as `message | fix` lines.
fn findings(all: &[Value], area: &str, level: &str) -> Vec<String> {
    all.iter()
        .filter(|f| f["area"] == area && f["level"] == level)
        .map(|f| {
            format!(
                "{} | {}",
                f["message"].as_str().unwrap_or_default(),
                f["fix"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// `gatehouse explain --json -` with the credential on stdin.
fn explain(env: &[(&str, &str)], credential: &str) -> (Option<i32>, Value, String) {
    cli_json(&["explain", "--json", "-"], env, credential)
}

#[track_caller]
fn assert_mentions(text: &str, fragments: &[&str]) {
    for fragment in fragments {
        assert!(text.contains(fragment), "{fragment:?} not in: {text}");
    }
}

#[track_caller]
fn assert_never_printed(output: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !output.contains(secret),
            "a secret or token was printed: {output}"
        );
    }
}

#[test]
fn an_opaque_session_token_sent_where_a_jwt_is_expected() {
    // The frontend sends Better Auth's session token; the API only trusts
    // the jwt plugin's JWTs.
    let server = BetterAuth::start();
    let user = sign_up_and_in(&server, "opaque@example.com");
    let env = [("BETTER_AUTH_URL", server.base_url.as_str())];
    let function = start(AUTH_SESSION, &env);
    assert_refused(
        &session_with(&function, &user.session_token),
        "token_malformed",
        &["Better Auth session token", "not a JWT"],
        &["GET /api/auth/token", "BETTER_AUTH_SECRET"],
    );
    let (code, report, all) = explain(&env, &user.session_token);
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(
        report["kind"], "a Better Auth signed session token (opaque, not a JWT)",
        "{all}"
    );
    assert_eq!(report["verdict"]["reason"], "token_malformed", "{all}");
    assert_mentions(
        report["verdict"]["hint"].as_str().unwrap(),
        &["GET /api/auth/token"],
    );
    assert_never_printed(&all, &[&user.session_token]);
    // The fix the hint names: the JWT from GET /api/auth/token is accepted.
    let bearer_header = format!("Bearer {}", user.session_token);
    let jwt = server.jwt(("authorization", bearer_header.as_str()));
    let principal = assert_accepted(&session_with(&function, &jwt));
    assert_eq!(principal["subject"], user.user_id.as_str());
}

#[test]
fn the_auth_server_and_the_api_hold_different_secrets() {
    // The API reads Better Auth's sessions from its database, but was given
    // another BETTER_AUTH_SECRET.
    let server = BetterAuth::start();
    let user = sign_up_and_in(&server, "secrets@example.com");
    block_on(server.db.migrate());
    let wrong = unique_secret("not-the-auth-servers");
    let env = [
        ("DATABASE_URL", server.db.url.as_str()),
        ("BETTER_AUTH_SECRET", wrong.as_str()),
    ];
    let function = start(AUTH_SESSION, &env);
    let response = get(
        function.addr(),
        "/api/auth/session",
        &[("cookie", &user.cookie)],
    );
    assert_refused(
        &response,
        "cookie_signature_invalid",
        &["does not verify"],
        &["BETTER_AUTH_SECRET here differs from the auth server's"],
    );
    // The doctor, given the auth server's Set-Cookie, says the same.
    let (code, all_findings, all) = doctor(&["--token", &user.set_cookie], &env);
    assert_eq!(code, Some(1), "{all}");
    let failed = findings(&all_findings, "consistency", "fail").join("\n");
    assert_mentions(
        &failed,
        &["cookie_signature_invalid", "differs from the auth server's"],
    );
    // With the auth server's secret, the same sample passes.
    let right = [
        ("DATABASE_URL", server.db.url.as_str()),
        ("BETTER_AUTH_SECRET", server.secret.as_str()),
    ];
    let (_, all_findings, all) = doctor(&["--token", &user.set_cookie], &right);
    let passed = findings(&all_findings, "consistency", "pass").join("\n");
    assert_mentions(&passed, &["is accepted for subject", &user.user_id]);
    // And the API, redeployed with it, answers 200 to the same cookie.
    let fixed = start(AUTH_SESSION, &right);
    let response = get(
        fixed.addr(),
        "/api/auth/session",
        &[("cookie", &user.cookie)],
    );
    assert_eq!(assert_accepted(&response)["subject"], user.user_id.as_str());
    assert_never_printed(&all, &[&user.session_token, &server.secret, &wrong]);

    // Shared-secret JWTs: the 401 names the secret's fingerprint to compare.
    let minted_with = unique_secret("issuer-side");
    let api_secret = unique_secret("api-side");
    let token = jose_one(secret_spec(
        "HS256",
        &minted_with,
        &json!({ "sub": "ada", "exp": now() + 600 }),
    ));
    let function = start(AUTH_SESSION, &[("JWT_SECRET", &api_secret)]);
    assert_refused(
        &session_with(&function, &token),
        "signature_invalid",
        &["different secret than this deployment's JWT_SECRET"],
        &["compare secret fingerprints", "sha256:"],
    );
    // The fix: the same secret in both services.
    let fixed = start(AUTH_SESSION, &[("JWT_SECRET", &minted_with)]);
    assert_accepted(&session_with(&fixed, &token));
}

#[test]
fn a_secret_rotated_without_keeping_the_previous_one() {
    let old = unique_secret("old");
    let new = unique_secret("new");
    let token = jose_one(secret_spec(
        "HS256",
        &old,
        &json!({ "sub": "ada", "exp": now() + 600 }),
    ));
    // Redeployed with the new secret only: every live token fails.
    let rotated = start(AUTH_SESSION, &[("JWT_SECRET", &new)]);
    assert_refused(
        &session_with(&rotated, &token),
        "signature_invalid",
        &["different secret"],
        &["rotated without JWT_SECRET_PREVIOUS"],
    );
    let (code, report, all) = explain(&[("JWT_SECRET", &new)], &token);
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(report["verdict"]["reason"], "signature_invalid");
    assert_never_printed(&all, &[&token, &old, &new]);
    // The fix the hint names: keep the previous secret during the rotation.
    let fixed = start(
        AUTH_SESSION,
        &[("JWT_SECRET", &new), ("JWT_SECRET_PREVIOUS", &old)],
    );
    let principal = assert_accepted(&session_with(&fixed, &token));
    assert_eq!(principal["signed_with_previous_secret"], true);
}

#[test]
fn issuer_or_audience_set_to_another_environments_url() {
    let jwks = JwksServer::start(Reply::jwks(&standard_keys()));
    let preview = "https://myapp-git-feature-team.vercel.app";
    // A token from the preview deployment's auth, sent to production.
    let from_preview = jose_one(spec(
        "RS256",
        KID_RSA,
        &with(&claims("ada"), json!({ "iss": preview })),
    ));
    let function = start_with_jwks(AUTH_SESSION, &jwks.url(), &[]);
    assert_refused(
        &session_with(&function, &from_preview),
        "issuer_mismatch",
        &[preview],
        &[ISSUER],
    );
    let for_preview_api = jose_one(spec(
        "RS256",
        KID_RSA,
        &with(&claims("ada"), json!({ "aud": preview })),
    ));
    assert_refused(
        &session_with(&function, &for_preview_api),
        "audience_mismatch",
        &[preview],
        &[AUDIENCE],
    );
    // The fix the hints name: each environment's API trusts its own auth
    // (the preview API: the preview's issuer and audience).
    let preview_api = start_with_jwks(
        AUTH_SESSION,
        &jwks.url(),
        &[("JWT_ISSUER", preview), ("JWT_AUDIENCE", preview)],
    );
    let preview_token = jose_one(spec(
        "RS256",
        KID_RSA,
        &with(&claims("ada"), json!({ "iss": preview, "aud": preview })),
    ));
    assert_accepted(&session_with(&preview_api, &preview_token));
    // The API configured with the preview's audience: a sample of the
    // production auth server's tokens shows the disagreement...
    let jwks_url = jwks.url();
    let production_token = jose_one(spec("RS256", KID_RSA, &claims("ada")));
    let (code, all_findings, all) = doctor(
        &["--token", &production_token],
        &[
            ("JWT_JWKS_URL", &jwks_url),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", preview),
        ],
    );
    assert_eq!(code, Some(1), "{all}");
    assert_mentions(
        &findings(&all_findings, "consistency", "fail").join("\n"),
        &["audience_mismatch", preview, "JWT_AUDIENCE"],
    );
    assert_never_printed(&all, &[&production_token]);
    // ...and in production the setting alone is flagged.
    let prod_secret = unique_secret("prod");
    let (_, all_findings, all) = doctor(
        &[],
        &[
            ("ENVIRONMENT", "production"),
            ("JWT_SECRET", &prod_secret),
            ("JWT_ISSUER", preview),
        ],
    );
    assert_mentions(
        &findings(&all_findings, "consistency", "warn").join("\n"),
        &["names a preview deployment", "production URL"],
    );
    assert_never_printed(&all, &[&prod_secret]);
}

#[test]
fn a_jwks_url_that_answers_404_or_html() {
    for (reply, named) in [(Reply::status(404), "404"), (Reply::html(), "HTML")] {
        let jwks = JwksServer::start(reply);
        let function = start_with_jwks(AUTH_SESSION, &jwks.url(), &[]);
        let token = jose_one(spec("RS256", KID_RSA, &claims("ada")));
        assert_refused(
            &session_with(&function, &token),
            "jwks_unavailable",
            &[named],
            &["not your token", "JWKS URL"],
        );
        let jwks_url = jwks.url();
        let (code, all_findings, all) = doctor(
            &[],
            &[
                ("JWT_JWKS_URL", &jwks_url),
                ("JWT_ISSUER", ISSUER),
                ("JWT_AUDIENCE", AUDIENCE),
            ],
        );
        assert_eq!(code, Some(1), "{all}");
        assert_mentions(
            &findings(&all_findings, "jwks", "fail").join("\n"),
            &[named, "JWT_JWKS_URL"],
        );
        // The fix: the URL where the issuer really publishes its keys.
        let keys = JwksServer::start(Reply::jwks(&standard_keys()));
        let fixed = start_with_jwks(AUTH_SESSION, &keys.url(), &[]);
        assert_accepted(&session_with(&fixed, &token));
    }
}

#[test]
fn an_expired_token() {
    let secret = unique_secret("expiry");
    let expired_at = now() - 3600;
    let token = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": expired_at }),
    ));
    let function = start(AUTH_SESSION, &[("JWT_SECRET", &secret)]);
    assert_refused(
        &session_with(&function, &token),
        "token_expired",
        &["the token expired at", "s ago"],
        &["get a fresh token"],
    );
    let (code, report, all) = explain(&[("JWT_SECRET", &secret)], &token);
    assert_eq!(code, Some(1), "{all}");
    let expiry = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == "expiry and clock")
        .cloned()
        .unwrap_or_default();
    assert_eq!(expiry["status"], "fail", "{all}");
    assert_eq!(report["unverified_claims"]["exp"], expired_at, "{all}");
    assert_never_printed(&all, &[&token, &secret]);
    // The fix: a fresh token.
    let fresh = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": now() + 600 }),
    ));
    assert_accepted(&session_with(&function, &fresh));
}

#[test]
fn a_clock_5_minutes_off() {
    // The issuer's clock runs 5 minutes ahead: its fresh tokens are issued
    // "in the future".
    let ahead = now() + 300;
    let jwks = JwksServer::start(Reply::jwks(&standard_keys()).with_date(
        &httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(300)),
    ));
    let token = jose_one(spec(
        "RS256",
        KID_RSA,
        &with(
            &claims("ada"),
            json!({ "iat": ahead, "nbf": ahead, "exp": ahead + 900 }),
        ),
    ));
    let function = start_with_jwks(AUTH_SESSION, &jwks.url(), &[]);
    assert_refused(
        &session_with(&function, &token),
        "token_not_yet_valid",
        &["from now"],
        &["clock", "NTP"],
    );
    let jwks_url = jwks.url();
    let (code, all_findings, all) = doctor(
        &[],
        &[
            ("JWT_JWKS_URL", &jwks_url),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
        ],
    );
    assert_eq!(code, Some(1), "{all}");
    assert_mentions(
        &findings(&all_findings, "clock", "fail").join("\n"),
        &["ahead of this host's", "not yet valid", "NTP"],
    );
    // The stopgap the hint names until the clocks are synced: a leeway that
    // covers the skew.
    let tolerant = start_with_jwks(AUTH_SESSION, &jwks.url(), &[("JWT_LEEWAY_SECS", "300")]);
    assert_accepted(&session_with(&tolerant, &token));
}

#[test]
fn a_cross_site_cookie_without_secure() {
    // A cookie made SameSite=None to reach a frontend on another site, but
    // not Secure: browsers drop it, and every call is a 401. Better Auth
    // itself adds Secure to SameSite=None (checked here); the header below is
    // what a hand-written auth route or a proxy that strips Secure sends.
    // `doctor` names it from the header; Chromium then shows the drop (its
    // own blocked-cookie reason), the 401 that follows, and the fix working.
    let server = BetterAuth::start_with(&[("COOKIE_SAME_SITE", "none")]);
    let user = sign_up_and_in(&server, "cookies@example.com");
    assert!(
        user.set_cookie.contains("; Secure") && user.set_cookie.contains("SameSite=None"),
        "Better Auth set: {}",
        user.set_cookie
    );
    let without_secure = user.set_cookie.replace("; Secure", "");
    block_on(server.db.migrate());
    let env = [
        ("DATABASE_URL", server.db.url.as_str()),
        ("BETTER_AUTH_SECRET", server.secret.as_str()),
        ("AUTH_SERVER_URL", server.base_url.as_str()),
        ("CORS_ORIGINS", "https://app.example.com"),
    ];
    let (code, all_findings, all) = doctor(
        // The API shares the auth server's host; the frontend is elsewhere.
        &["--token", &without_secure, "--url", &server.base_url],
        &env,
    );
    assert_eq!(code, Some(1), "{all}");
    let browser = findings(&all_findings, "browser", "fail").join("\n");
    assert_mentions(
        &browser,
        &[
            "SameSite=None without Secure",
            "browsers reject",
            "add Secure",
        ],
    );
    // The cookie itself is genuine: the secrets agree.
    assert!(
        !findings(&all_findings, "consistency", "pass").is_empty(),
        "{all}"
    );
    assert_never_printed(&all, &[&user.session_token, &server.secret]);

    // What Chromium itself does with that cookie, then with the fix. The
    // auth route (on the API's host, another port) sets the cookie for a
    // frontend on another site, which then calls the API with
    // `credentials: 'include'`. The profile allows third-party cookies, so
    // only the cookie's own attributes decide.
    let chromium = chromium();
    let frontend = Sites::pages(1);
    let page = format!("http://127.0.0.1:{}", frontend.ports[0]);
    let auth_route = {
        let (page, secure, insecure) = (page.clone(), user.set_cookie.clone(), without_secure);
        Sites::start(1, move |path| {
            let cookie = match path {
                "/sign-in/secure" => Some(secure.clone()),
                "/sign-in/without-secure" => Some(insecure.clone()),
                _ => None,
            };
            let mut headers = vec![
                ("Access-Control-Allow-Origin".to_owned(), page.clone()),
                (
                    "Access-Control-Allow-Credentials".to_owned(),
                    "true".to_owned(),
                ),
            ];
            headers.extend(cookie.map(|line| ("Set-Cookie".to_owned(), line)));
            SiteReply {
                headers,
                content_type: "application/json",
                body: r#"{"signed_in":true}"#.into(),
            }
        })
    };
    let (_api, addr) = start_dev(&[
        ("DATABASE_URL", server.db.url.as_str()),
        ("BETTER_AUTH_SECRET", server.secret.as_str()),
        ("CORS_ORIGINS", page.as_str()),
    ]);
    let api = format!("http://localhost:{}", addr.port());
    let auth_url = format!("http://localhost:{}", auth_route.ports[0]);
    let cookie_value = user.cookie.split_once('=').map_or("", |(_, value)| value);
    let secrets = [
        user.session_token.as_str(),
        cookie_value,
        server.secret.as_str(),
    ]
    .join("\n");
    let (result, evidence) = browse(&[
        ("BROWSER_LEGS", "auth_cookie"),
        ("BROWSER_API_URL", &api),
        ("BROWSER_PAGE_ORIGIN", &page),
        ("BROWSER_AUTH_URL", &auth_url),
        ("BROWSER_SECRETS", &secrets),
        ("CHROMIUM_PATH", &chromium.to_string_lossy()),
    ]);
    assert_never_printed(
        &format!("{}{}", evidence.stdout, evidence.stderr),
        &[&user.session_token, cookie_value, &server.secret],
    );
    let leg = "auth_cookie";
    let name = "better-auth.session_token";

    // Chromium refuses the cookie for its attributes, and says which.
    let sign_in = step(&result, leg, "sign_in_without_secure");
    assert_eq!(sign_in["status"], 200, "{sign_in}");
    assert_eq!(
        requests(sign_in).1["set_cookies_blocked"],
        json!([{ "name": name, "reasons": ["SameSiteNoneInsecure"] }]),
        "{sign_in}"
    );
    assert_eq!(
        step(&result, leg, "jar_after_sign_in_without_secure"),
        &json!([])
    );
    // So the call carries no cookie, and the 401 says what to look for.
    let session = step(&result, leg, "session_without_secure");
    assert_eq!(session["status"], 401, "{session}");
    assert_eq!(
        session["body"]["reason"], "credentials_missing",
        "{session}"
    );
    let hint = session["body"]["hint"].as_str().unwrap_or_default();
    assert_mentions(hint, &["SameSite=None; Secure", "gatehouse doctor --token"]);
    let (_, call) = requests(session);
    assert_eq!(call["sent_cookie_header"], false, "{session}");

    // The fix doctor named: the same cookie with Secure is stored and sent.
    let sign_in = step(&result, leg, "sign_in_secure");
    assert_eq!(
        requests(sign_in).1["set_cookies_blocked"],
        json!([]),
        "{sign_in}"
    );
    let jar = step(&result, leg, "jar_after_sign_in_secure");
    assert_eq!(jar[0]["name"], name, "{jar}");
    assert_eq!(jar[0]["secure"], true, "{jar}");
    assert_eq!(jar[0]["sameSite"], "None", "{jar}");
    let session = step(&result, leg, "session_secure");
    assert_eq!(session["status"], 200, "{session}");
    assert_eq!(
        names(&requests(session).1["cookies_sent"]),
        [name],
        "{session}"
    );
    assert_eq!(
        session["body"]["principal"]["subject"],
        user.user_id.as_str(),
        "{session}"
    );
    drop(evidence);
}

#[test]
fn postgres_unreachable() {
    // Better Auth's database is down (or DATABASE_URL points nowhere): a
    // real user's valid session must not turn into a 401.
    let server = BetterAuth::start();
    let user = sign_up_and_in(&server, "outage@example.com");
    block_on(server.db.migrate());
    let unreachable = refused_url().replace("http://", "postgres://postgres@") + "/gatehouse";
    let env = [
        ("DATABASE_URL", unreachable.as_str()),
        ("BETTER_AUTH_SECRET", server.secret.as_str()),
        ("DATABASE_CONNECT_TIMEOUT_SECS", "2"),
    ];
    let function = start(AUTH_SESSION, &env);
    let response = session_with(&function, &user.session_token);
    let body = assert_refused(
        &response,
        "session_store_unavailable",
        &["Postgres"],
        &["is running", "DATABASE_URL"],
    );
    assert_ne!(body["reason"], "session_not_found");
    let (code, all_findings, all) = doctor(&[], &env);
    assert_eq!(code, Some(1), "{all}");
    assert_mentions(
        &findings(&all_findings, "postgres", "fail").join("\n"),
        &["DATABASE_URL"],
    );
    assert_never_printed(&all, &[&server.secret, &user.session_token]);
    // The fix: Postgres reachable at DATABASE_URL. The same session works.
    let fixed = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", server.db.url.as_str()),
            ("BETTER_AUTH_SECRET", server.secret.as_str()),
        ],
    );
    let principal = assert_accepted(&session_with(&fixed, &user.session_token));
    assert_eq!(principal["subject"], user.user_id.as_str());
}

#[test]
fn an_api_key_sent_where_a_user_token_is_expected() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let output = run_cli(
        &["api-keys", "create", "--name", "nightly-job"],
        &[("DATABASE_URL", &db.url)],
        "",
    );
    let key = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        key.starts_with("gk_"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let secret = unique_secret("users");
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", secret.as_str()),
    ];
    let function = start(AUTH_SESSION, &env);
    // Sent as if it were the user's bearer token.
    let body = assert_refused(
        &get(
            function.addr(),
            "/api/auth/session",
            &[("authorization", &bearer(&key))],
        ),
        "insufficient_scope",
        &["an API key arrived", "not a user"],
        &["send the user's session cookie or token"],
    );
    assert_never_printed(&body.to_string(), &[&key]);
    // The fix the hint names: the user's own token.
    let user_token = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": now() + 600 }),
    ));
    assert_accepted(&session_with(&function, &user_token));
    let (code, report, all) = explain(&env, &key);
    assert_eq!(code, Some(0), "the key itself is valid: {all}");
    assert_eq!(report["kind"], "an API key");
    assert_never_printed(&all, &[&key]);
    // A deployment that takes only user JWTs says what arrived.
    let jwt_only = start(AUTH_SESSION, &[("JWT_SECRET", &secret)]);
    assert_refused(
        &session_with(&jwt_only, &key),
        "api_key_invalid",
        &["an API key arrived", "does not accept API keys"],
        &["DATABASE_URL"],
    );
    let someone_elses = "sk_live_51Habcdefghijklmnopqrstuvwxyz0123456789";
    assert_refused(
        &session_with(&jwt_only, someone_elses),
        "token_malformed",
        &["opaque token", "not a JWT"],
        &["send the JWT"],
    );
}
