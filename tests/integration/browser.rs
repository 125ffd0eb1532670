//! A real browser: Debian's headless Chromium, driven by playwright-core
//! (`tests/interop/browser-flow.mjs`), loads a page from one origin that
//! calls `gatehouse dev` on another with `fetch(..., { credentials:
//! 'include' })`. What is asserted is what Chromium enforced, read from the
//! browser itself (its cookie jar, the DevTools protocol's view of every
//! request, preflight and blocked cookie), not what our own client assumes.
//!
//! Origins: the API is `http://localhost:<port>`, the frontend
//! `http://127.0.0.1:<port>`: different sites. Both are loopback, which
//! Chromium treats as a secure context, so it stores `Secure` and `__Host-`
//! cookies from plain `http://` there, as it would from `https://`.
//!
//! What Chromium 156 does, found by this test:
//! - As shipped (a fresh profile; headless through Playwright, and plain
//!   `chromium --headless` alike), it blocks third-party cookies: the exchange's
//!   `SameSite=None; Secure` cookie is refused with the reason
//!   `UserPreferences` (the "block third-party cookies" setting) and never
//!   sent. The documented fallback works: the token from the exchange body
//!   in `Authorization: Bearer` passes the CORS preflight.
//! - A user who allows third-party cookies (Chrome's setting, here the
//!   profile preference `profile.cookie_controls_mode: 0`) gets the cookie
//!   stored exactly as set (host-only, HttpOnly, Secure, SameSite=None) and
//!   sent cross-site; logout deletes it. A page of a foreign origin then
//!   also sends it, which is why the server's CORS and write guard matter:
//!   its preflight is refused, the forged logout is refused 403 and the
//!   session survives.
//! - Page and API on one site (`localhost`, two ports): the cookie is
//!   first-party, `SameSite=Lax` suffices and third-party blocking does not
//!   apply.
//!
//! Chromium and playwright-core are installed by `tests/run`; when missing
//! the test fails with the fix, it is never skipped.

use std::time::Instant;

use serde_json::{Value, json};

use crate::auth::{now, unique_secret};
use crate::support::chromium::{Sites, browse, chromium, names, requests, step};
use crate::support::db::TestDb;
use crate::support::function::{Process, block_on, free_port, start_dev, start_dev_on};
use crate::support::mint::{jose_one, secret_spec};

const COOKIE: &str = "__Host-gatehouse_session";
const SUBJECT: &str = "ada";
/// `SESSION_TTL_SECS`'s default: the cookie's `Max-Age`.
const TTL_SECS: i64 = 86_400;
/// Why Chromium refuses a cookie when it is third-party blocking, not the
/// cookie's attributes, that keeps it out (`UserPreferences` is the user's
/// cookie setting, Chromium's default).
const THIRD_PARTY_BLOCKING: [&str; 3] = [
    "UserPreferences",
    "ThirdPartyPhaseout",
    "ThirdPartyBlockedInFirstPartySet",
];

/// `gatehouse dev` on a free port; its base URL with `localhost` as host.
fn dev(env: &[(&str, &str)]) -> (Process, String) {
    let mut full = vec![("LOG_FORMAT", "json")];
    full.extend_from_slice(env);
    let (dev, addr) = start_dev(&full);
    (dev, format!("http://localhost:{}", addr.port()))
}

#[track_caller]
fn assert_answered(step: &Value, status: u64) {
    assert_eq!(step["status"], status, "{step}");
    assert!(step["error"].is_null(), "{step}");
}

#[track_caller]
fn assert_reason(step: &Value, reason: &str) {
    assert_answered(step, 401);
    assert_eq!(step["body"]["reason"], reason, "{step}");
}

#[track_caller]
fn assert_principal(step: &Value, source: &str) {
    assert_answered(step, 200);
    let principal = &step["body"]["principal"];
    assert_eq!(principal["subject"], SUBJECT, "{step}");
    assert_eq!(principal["method"], "gatehouse_session", "{step}");
    assert_eq!(principal["credential_source"], source, "{step}");
}

/// The page could not read the answer: `fetch` rejected with a TypeError.
#[track_caller]
fn assert_blocked_by_browser(step: &Value) {
    assert!(step["status"].is_null(), "{step}");
    assert_eq!(step["error"]["name"], "TypeError", "{step}");
}

/// A preflight the server answered for `page`, before an actual request
/// carrying `Authorization`.
#[track_caller]
fn assert_preflight_passed(step: &Value, page: &str) {
    let (preflight, actual) = requests(step);
    let preflight = preflight.unwrap_or_else(|| panic!("no preflight in {step}"));
    assert_eq!(preflight["method"], "OPTIONS", "{step}");
    assert_eq!(preflight["status"], 204, "{step}");
    assert_eq!(preflight["allow_origin"], page, "{step}");
    assert_eq!(preflight["allow_credentials"], "true", "{step}");
    assert_eq!(actual["sent_authorization"], true, "{step}");
    assert!(
        actual["status"].is_u64(),
        "the actual request was sent: {step}"
    );
}

/// A simple request (no preflight) whose answer the page could read.
#[track_caller]
fn assert_simple(step: &Value, page: &str) {
    let (preflight, actual) = requests(step);
    assert!(preflight.is_none(), "{step}");
    assert_eq!(actual["sent_authorization"], false, "{step}");
    assert_eq!(actual["allow_origin"], page, "{step}");
}

/// The session cookie as Chromium stored it.
#[track_caller]
fn assert_stored(jar: &Value, same_site: &str) {
    let cookies = jar.as_array().expect("jar");
    assert_eq!(cookies.len(), 1, "{jar}");
    let cookie = &cookies[0];
    assert_eq!(cookie["name"], COOKIE, "{jar}");
    assert_eq!(cookie["httpOnly"], true, "{jar}");
    assert_eq!(cookie["secure"], true, "{jar}");
    assert_eq!(cookie["sameSite"], same_site, "{jar}");
    assert_eq!(cookie["path"], "/", "{jar}");
    // Host-only: a Domain attribute would show as `.localhost`.
    assert_eq!(cookie["domain"], "localhost", "{jar}");
    assert_eq!(cookie["partitioned"], false, "{jar}");
    let expires_in = cookie["expires_in"].as_i64().expect("a persistent cookie");
    assert!((expires_in - TTL_SECS).abs() <= 60, "{jar}");
}

#[track_caller]
fn assert_set_cookie(request: &Value, max_age: i64, same_site: &str) {
    let expected = format!(
        "{COOKIE}=<value>; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite={same_site}"
    );
    assert_eq!(
        names(&request["set_cookies"]),
        [expected.as_str()],
        "{request}"
    );
}

/// The server's own `request refused` log events with `reason`.
fn refusals<'a>(logs: &'a [Value], reason: &str) -> Vec<&'a Value> {
    logs.iter()
        .filter(|event| event["message"] == "request refused" && event["reason"] == reason)
        .collect()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Whether `text` holds something shaped like a session token.
fn holds_session_token(text: &str) -> bool {
    text.match_indices("gs_").any(|(at, _)| {
        let rest = &text[at + 3..];
        rest.len() >= 43
            && rest
                .bytes()
                .take(43)
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[test]
fn chromium_enforces_the_cookie_cors_and_session_flow() {
    let chromium = chromium();
    let started = Instant::now();
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = unique_secret("browser");
    let pages = Sites::pages(3);
    let page = format!("http://127.0.0.1:{}", pages.ports[0]);
    let foreign = format!("http://127.0.0.1:{}", pages.ports[1]);
    let same_site_page = format!("http://localhost:{}", pages.ports[2]);

    // The API for a frontend on another site: SameSite=None.
    let (mut cross, api) = dev(&[
        ("DATABASE_URL", &db.url),
        ("JWT_SECRET", &secret),
        ("CORS_ORIGINS", &page),
        ("SESSION_COOKIE_SAMESITE", "none"),
    ]);
    // The API for a frontend on its own site: the default, SameSite=Lax.
    let (mut lax, lax_api) = dev(&[
        ("DATABASE_URL", &db.url),
        ("JWT_SECRET", &secret),
        ("CORS_ORIGINS", &same_site_page),
    ]);
    let jwt = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": SUBJECT, "exp": now() + 600 }),
    ));
    let servers_ready = started.elapsed();

    let chromium = chromium.to_string_lossy();
    let (result, evidence) = browse(&[
        ("BROWSER_API_URL", &api),
        ("BROWSER_PAGE_ORIGIN", &page),
        ("BROWSER_FOREIGN_ORIGIN", &foreign),
        ("BROWSER_SAME_SITE_API_URL", &lax_api),
        ("BROWSER_SAME_SITE_PAGE_ORIGIN", &same_site_page),
        ("BROWSER_JWT", &jwt),
        ("CHROMIUM_PATH", &chromium),
    ]);
    cross.assert_running();
    lax.assert_running();
    for text in [&evidence.stdout, &evidence.stderr] {
        assert!(
            !text.contains(&jwt) && !text.contains(&secret) && !holds_session_token(text),
            "the browser script printed a secret"
        );
    }
    let product = result["chromium"]["product"].as_str().unwrap_or_default();
    assert!(product.starts_with("Chrome/"), "{}", result["chromium"]);

    // --- Chromium as shipped, page and API on different sites. -------------
    let leg = "cross_site_default";
    let facts = step(&result, leg, "page");
    assert_eq!(facts["origin"], page.as_str());
    // Loopback is a secure context even over http: `Secure` cookies and
    // `__Host-` names are allowed here as they would be over https.
    assert_eq!(facts["secure_context"], true, "{facts}");

    let exchange = step(&result, leg, "exchange");
    assert_answered(exchange, 201);
    let body = &exchange["body"];
    assert_eq!(body["token_present"], true, "{exchange}");
    assert_eq!(body["token_length"], 46, "{exchange}");
    assert_eq!(body["token_prefix"], "gs_", "{exchange}");
    assert_eq!(body["token_type"], "Bearer", "{exchange}");
    assert_eq!(body["cookie"], COOKIE, "{exchange}");
    assert_eq!(body["principal"]["subject"], SUBJECT, "{exchange}");
    // `Authorization` is not a CORS-safelisted header: a preflight first.
    assert_preflight_passed(exchange, &page);
    let (_, post) = requests(exchange);
    assert_set_cookie(post, TTL_SECS, "None");
    // The server set a valid cross-site cookie; Chromium dropped it because
    // it blocks third-party cookies, and for no reason of its attributes.
    let blocked = post["set_cookies_blocked"].as_array().expect("blocked");
    assert_eq!(blocked.len(), 1, "{post}");
    assert_eq!(blocked[0]["name"], COOKIE, "{post}");
    let reasons = names(&blocked[0]["reasons"]);
    assert!(
        !reasons.is_empty() && reasons.iter().all(|r| THIRD_PARTY_BLOCKING.contains(r)),
        "Chromium refused the cookie for {reasons:?}, not (only) for third-party blocking: {post}"
    );
    assert_eq!(step(&result, leg, "jar_after_exchange"), &json!([]));

    // So a credentialed call carries no cookie: the refusal names it.
    let cookie_only = step(&result, leg, "session_cookie_only");
    assert_reason(cookie_only, "credentials_missing");
    assert_simple(cookie_only, &page);
    assert_eq!(requests(cookie_only).1["sent_cookie_header"], false);

    // The documented fallback: the exchange's token in Authorization.
    let bearer = step(&result, leg, "session_bearer");
    assert_principal(bearer, "authorization_header");
    assert_preflight_passed(bearer, &page);
    let logout = step(&result, leg, "logout_bearer");
    assert_answered(logout, 200);
    assert_eq!(
        logout["body"],
        json!({ "outcome": "logged_out", "sessions_ended": 1 })
    );
    assert_preflight_passed(logout, &page);
    assert_reason(
        step(&result, leg, "session_bearer_after_logout"),
        "session_not_found",
    );
    assert_eq!(step(&result, leg, "jar_at_end"), &json!([]));

    // --- A user who allows third-party cookies: the cookie flow. ------------
    let leg = "cross_site_cookies_allowed";
    let exchange = step(&result, leg, "exchange");
    assert_answered(exchange, 201);
    assert_preflight_passed(exchange, &page);
    let (_, post) = requests(exchange);
    assert_set_cookie(post, TTL_SECS, "None");
    assert_eq!(post["set_cookies_blocked"], json!([]), "{post}");
    assert_stored(step(&result, leg, "jar_after_exchange"), "None");
    // HttpOnly: not even a script of the API's own origin sees it.
    let document = step(&result, leg, "document_cookie_on_api_origin");
    assert_eq!(document["origin"], api.as_str(), "{document}");
    assert!(
        !names(&document["cookie_names"]).contains(&COOKIE),
        "{document}"
    );

    // The cookie alone authenticates: a simple GET, no preflight.
    let cookie_only = step(&result, leg, "session_cookie_only");
    assert_principal(cookie_only, &format!("cookie:{COOKIE}"));
    assert_simple(cookie_only, &page);
    assert_eq!(names(&requests(cookie_only).1["cookies_sent"]), [COOKIE]);
    // With Authorization too: preflighted, and the header wins.
    let bearer = step(&result, leg, "session_bearer");
    assert_principal(bearer, "authorization_header");
    assert_preflight_passed(bearer, &page);

    // A foreign page while the cookie is live. Chromium sends the cookie
    // (SameSite=None, third-party cookies allowed) but shows the page nothing.
    let facts = step(&result, leg, "foreign_page");
    assert_eq!(facts["origin"], foreign.as_str());
    let simple = step(&result, leg, "foreign_session_simple");
    assert_blocked_by_browser(simple);
    let (preflight, actual) = requests(simple);
    assert!(preflight.is_none(), "{simple}");
    assert_eq!(names(&actual["cookies_sent"]), [COOKIE], "{simple}");
    assert!(actual["allow_origin"].is_null(), "{simple}");
    assert_eq!(actual["cors_error"], "MissingAllowOriginHeader", "{simple}");
    // A preflighted call: the server refuses the preflight, so Chromium
    // never sends the request itself.
    let preflighted = step(&result, leg, "foreign_session_preflighted");
    assert_blocked_by_browser(preflighted);
    let (preflight, actual) = requests(preflighted);
    let preflight = preflight.unwrap_or_else(|| panic!("no preflight in {preflighted}"));
    assert_eq!(preflight["status"], 403, "{preflighted}");
    assert!(preflight["allow_origin"].is_null(), "{preflighted}");
    assert!(actual["status"].is_null(), "sent anyway: {preflighted}");
    assert!(
        actual["cors_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("Preflight")),
        "{preflighted}"
    );
    // A forged logout: a simple POST, so no preflight and the cookie goes
    // along; the write guard refuses it before any handler runs.
    let forged = step(&result, leg, "foreign_logout");
    assert_blocked_by_browser(forged);
    let (preflight, actual) = requests(forged);
    assert!(preflight.is_none(), "{forged}");
    assert_eq!(names(&actual["cookies_sent"]), [COOKIE], "{forged}");
    assert_eq!(actual["status"], 403, "{forged}");
    assert_principal(
        step(&result, leg, "session_cookie_after_foreign"),
        &format!("cookie:{COOKIE}"),
    );
    // The server's side of both refusals, from its log.
    let logs = json_lines(&cross.stderr());
    let refused = refusals(&logs, "origin_not_allowed");
    for (method, route) in [
        ("OPTIONS", "/api/auth/session"),
        ("POST", "/api/auth/logout"),
    ] {
        assert!(
            refused.iter().any(|event| event["span"]["method"] == method
                && event["span"]["route"] == route
                && event["error"]
                    .as_str()
                    .is_some_and(|e| e.contains(foreign.as_str()))
                && event["status"] == 403),
            "no origin_not_allowed refusal of {method} {route} from {foreign} in the log: {refused:?}"
        );
    }
    assert!(
        refused.iter().all(|event| event["error"]
            .as_str()
            .is_some_and(|e| e.contains(foreign.as_str()))),
        "the allowed page was refused: {refused:?}"
    );

    // Logout with the cookie alone: a simple POST from the allowed page.
    let logout = step(&result, leg, "logout_cookie_only");
    assert_answered(logout, 200);
    assert_eq!(
        logout["body"],
        json!({ "outcome": "logged_out", "sessions_ended": 1 })
    );
    assert_simple(logout, &page);
    let (_, post) = requests(logout);
    assert_eq!(names(&post["cookies_sent"]), [COOKIE], "{logout}");
    assert_set_cookie(post, 0, "None");
    assert_eq!(step(&result, leg, "jar_after_logout"), &json!([]));
    // `credentials_missing`, not `session_not_found`: Chromium deleted the
    // cookie (Max-Age=0), so the next call carries nothing at all.
    let after = step(&result, leg, "session_after_logout");
    assert_reason(after, "credentials_missing");
    assert_eq!(requests(after).1["sent_cookie_header"], false, "{after}");
    // And the session is gone on the server too, not only from the jar: its
    // token, replayed, is `session_not_found`.
    assert_reason(
        step(&result, leg, "session_old_token_after_logout"),
        "session_not_found",
    );

    // --- Page and API on one site: a first-party SameSite=Lax cookie. -------
    let leg = "same_site";
    let facts = step(&result, leg, "page");
    assert_eq!(facts["origin"], same_site_page.as_str());
    let exchange = step(&result, leg, "exchange");
    assert_answered(exchange, 201);
    assert_preflight_passed(exchange, &same_site_page);
    let (_, post) = requests(exchange);
    assert_set_cookie(post, TTL_SECS, "Lax");
    assert_eq!(post["set_cookies_blocked"], json!([]), "{post}");
    assert_stored(step(&result, leg, "jar_after_exchange"), "Lax");
    let cookie_only = step(&result, leg, "session_cookie_only");
    assert_principal(cookie_only, &format!("cookie:{COOKIE}"));
    assert_simple(cookie_only, &same_site_page);
    let logout = step(&result, leg, "logout_cookie_only");
    assert_answered(logout, 200);
    assert_eq!(logout["body"]["sessions_ended"], 1, "{logout}");
    assert_set_cookie(requests(logout).1, 0, "Lax");
    assert_eq!(step(&result, leg, "jar_after_logout"), &json!([]));
    assert_reason(
        step(&result, leg, "session_after_logout"),
        "credentials_missing",
    );

    eprintln!(
        "browser test: {product}; servers ready after {servers_ready:?}; browser script {} ; whole test {:?}",
        result["timings"],
        started.elapsed()
    );
    drop(evidence);
}

/// docs/deploying.md's preview recipe, one project: a Vercel preview is
/// reached at two hosts, the deployment's own (`VERCEL_URL`, where the page
/// was opened) and the branch's (`VERCEL_BRANCH_URL`, where the frontend
/// calls the API). Two loopback origins stand in for them, the API
/// configured as Vercel configures a preview (`VERCEL_ENV`, the system
/// variables, no `ENVIRONMENT`) with
/// `CORS_ORIGINS=http://{VERCEL_BRANCH_URL},http://{VERCEL_URL}`. Chromium
/// as shipped: the page's exchange and bearer calls pass their preflights,
/// the cross-site cookie is not kept, and a third origin (another project's
/// preview) is refused at the preflight.
#[test]
fn a_preview_page_and_api_on_their_two_hosts_work_with_bearer_tokens() {
    let chromium = chromium();
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = unique_secret("browser-preview");
    let pages = Sites::pages(2);
    let deployment_host = format!("127.0.0.1:{}", pages.ports[0]);
    let page = format!("http://{deployment_host}");
    let foreign = format!("http://127.0.0.1:{}", pages.ports[1]);
    let api_port = free_port();
    let branch_host = format!("localhost:{api_port}");
    let (mut api, addr) = start_dev_on(
        api_port,
        &[
            ("LOG_FORMAT", "json"),
            ("DATABASE_URL", &db.url),
            ("JWT_SECRET", &secret),
            ("VERCEL_ENV", "preview"),
            ("VERCEL_GIT_COMMIT_REF", "feature-x"),
            ("VERCEL_URL", &deployment_host),
            ("VERCEL_BRANCH_URL", &branch_host),
            (
                "CORS_ORIGINS",
                "http://{VERCEL_BRANCH_URL},http://{VERCEL_URL}",
            ),
        ],
    );
    assert_eq!(addr.port(), api_port);
    let api_url = format!("http://{branch_host}");
    let jwt = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": SUBJECT, "exp": now() + 600 }),
    ));

    let chromium = chromium.to_string_lossy();
    let (result, evidence) = browse(&[
        ("BROWSER_LEGS", "preview"),
        ("BROWSER_API_URL", &api_url),
        ("BROWSER_PAGE_ORIGIN", &page),
        ("BROWSER_FOREIGN_ORIGIN", &foreign),
        ("BROWSER_JWT", &jwt),
        ("CHROMIUM_PATH", &chromium),
    ]);
    api.assert_running();
    for text in [&evidence.stdout, &evidence.stderr] {
        assert!(
            !text.contains(&jwt) && !text.contains(&secret) && !holds_session_token(text),
            "the browser script printed a secret"
        );
    }

    let leg = "preview";
    assert_eq!(step(&result, leg, "page")["origin"], page.as_str());
    // {VERCEL_URL} let the page in: the preflight echoes its origin.
    let exchange = step(&result, leg, "exchange");
    assert_answered(exchange, 201);
    assert_preflight_passed(exchange, &page);
    assert_eq!(exchange["body"]["token_present"], true, "{exchange}");
    // Two vercel.app hosts are two sites: the session cookie is not kept
    // (Lax, the default, and third-party besides), so the frontend sends
    // the token.
    assert_eq!(step(&result, leg, "jar_after_exchange"), &json!([]));
    assert_reason(
        step(&result, leg, "session_cookie_only"),
        "credentials_missing",
    );
    let bearer = step(&result, leg, "session_bearer");
    assert_principal(bearer, "authorization_header");
    assert_preflight_passed(bearer, &page);
    let logout = step(&result, leg, "logout_bearer");
    assert_answered(logout, 200);
    assert_preflight_passed(logout, &page);
    assert_reason(
        step(&result, leg, "session_bearer_after_logout"),
        "session_not_found",
    );

    // Another origin is not one of this deployment's hosts.
    assert_eq!(
        step(&result, leg, "foreign_page")["origin"],
        foreign.as_str()
    );
    let refused = step(&result, leg, "foreign_session_preflighted");
    assert_blocked_by_browser(refused);
    let (preflight, actual) = requests(refused);
    let preflight = preflight.unwrap_or_else(|| panic!("no preflight in {refused}"));
    assert_eq!(preflight["status"], 403, "{refused}");
    assert!(actual["status"].is_null(), "sent anyway: {refused}");

    // The API ran as a preview, its placeholders expanded without a problem.
    let logs = json_lines(&api.stderr());
    assert!(
        !logs
            .iter()
            .any(|event| event["target"] == "gatehouse::config"
                && event["level"] != "INFO"
                && event.to_string().contains("CORS_ORIGINS")),
        "CORS_ORIGINS was reported: {logs:?}"
    );
    assert!(
        refusals(&logs, "origin_not_allowed")
            .iter()
            .all(|event| event["error"]
                .as_str()
                .is_some_and(|e| e.contains(foreign.as_str()))),
        "only the foreign origin was refused"
    );
    drop(evidence);
}
