//! The Better Auth preset against a real Better Auth 1.7 server
//! (`tests/interop/better-auth-server.mjs`: email and password, `jwt` and
//! `bearer` plugins) on its own PostgreSQL database: a user signs up and in
//! over HTTP, gets a JWT from `GET /api/auth/token`, and `auth-session`,
//! configured with nothing but `BETTER_AUTH_URL`, accepts it.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::support::db::TestDb;
use crate::support::function::{Process, block_on};
use crate::support::http_client::{Response, exchange, get, request};
use crate::support::mint::{interop_dir, node};

/// Node start-up, table creation and listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub struct BetterAuth {
    pub process: Process,
    pub addr: SocketAddr,
    pub base_url: String,
    /// Its BETTER_AUTH_SECRET.
    pub secret: String,
    /// The database it owns: its tables, and ours once migrated.
    pub db: TestDb,
}

impl BetterAuth {
    pub fn start() -> BetterAuth {
        BetterAuth::start_with(&[])
    }

    /// With extra environment, e.g. `COOKIE_SAME_SITE`.
    pub fn start_with(extra: &[(&str, &str)]) -> BetterAuth {
        let db = block_on(TestDb::create());
        let secret = unique_secret("better-auth");
        let script = interop_dir().join("better-auth-server.mjs");
        let node = node();
        let mut env = vec![
            ("DATABASE_URL", db.url.as_str()),
            ("BETTER_AUTH_SECRET", secret.as_str()),
            ("PORT", "0"),
            ("NODE_ENV", "test"),
        ];
        env.extend_from_slice(extra);
        let mut process =
            Process::spawn(&node.to_string_lossy(), &[&script.to_string_lossy()], &env);
        let line = process.wait_stdout_line("better-auth ready", START_TIMEOUT);
        let ready: Value =
            serde_json::from_str(line.trim_start_matches("better-auth ready").trim())
                .unwrap_or_else(|err| panic!("ready line {line:?}: {err}"));
        let port = u16::try_from(ready["port"].as_u64().unwrap()).unwrap();
        let base_url = ready["baseURL"].as_str().unwrap().to_owned();
        assert_eq!(base_url, format!("http://127.0.0.1:{port}"));
        BetterAuth {
            process,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            base_url,
            secret,
            db,
        }
    }

    #[track_caller]
    pub fn post_json(&self, path: &str, body: &Value) -> Response {
        let body = body.to_string();
        let length = body.len().to_string();
        let mut raw = request(
            "POST",
            path,
            &[
                ("content-type", "application/json"),
                ("content-length", &length),
            ],
        );
        raw.extend_from_slice(body.as_bytes());
        let response = exchange(self.addr, &raw);
        assert_eq!(
            response.status,
            200,
            "{path}: {response}\n{}",
            self.process.report()
        );
        response
    }

    /// `POST /api/auth/sign-out` with the session cookie, as a browser does.
    #[track_caller]
    pub fn sign_out(&self, cookie: &str) {
        let mut raw = request(
            "POST",
            "/api/auth/sign-out",
            &[
                ("cookie", cookie),
                ("content-type", "application/json"),
                ("content-length", "2"),
            ],
        );
        raw.extend_from_slice(b"{}");
        let response = exchange(self.addr, &raw);
        assert_eq!(response.status, 200, "sign-out: {response}");
    }

    /// `GET /api/auth/token` with `header`: the jwt plugin's token.
    #[track_caller]
    pub fn jwt(&self, header: (&str, &str)) -> String {
        let response = get(self.addr, "/api/auth/token", &[header]);
        assert_eq!(response.status, 200, "{response}");
        response.json()["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {response}"))
            .to_owned()
    }
}

/// A signed-in user: id, the bearer plugin's session token, the cookie.
pub struct SignedIn {
    pub user_id: String,
    pub session_token: String,
    pub cookie: String,
    /// The whole `Set-Cookie` header of the session cookie.
    pub set_cookie: String,
    /// The cookie cache (`better-auth.session_data`, or its chunks) as a
    /// `Cookie` header fragment, when the server has `session.cookieCache`.
    pub cache_cookie: Option<String>,
}

pub fn sign_up_and_in(server: &BetterAuth, email: &str) -> SignedIn {
    let password = "correct-horse-battery-staple";
    let response = server.post_json(
        "/api/auth/sign-up/email",
        &json!({ "email": email, "password": password, "name": "Ada Lovelace" }),
    );
    let user_id = response.json()["user"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no user id: {response}"))
        .to_owned();
    let response = server.post_json(
        "/api/auth/sign-in/email",
        &json!({ "email": email, "password": password }),
    );
    assert_eq!(response.json()["user"]["id"], user_id.as_str());
    signed_in(user_id, &response)
}

/// Signs `email` in again: a second session of the same user.
pub fn sign_in(server: &BetterAuth, email: &str, user_id: &str) -> SignedIn {
    let response = server.post_json(
        "/api/auth/sign-in/email",
        &json!({ "email": email, "password": "correct-horse-battery-staple" }),
    );
    signed_in(user_id.to_owned(), &response)
}

fn signed_in(user_id: String, response: &Response) -> SignedIn {
    let session_token = response
        .header("set-auth-token")
        .unwrap_or_else(|| panic!("the bearer plugin sets set-auth-token: {response}"))
        .to_owned();
    let set_cookie = response
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, value)| value.as_str())
        .find(|value| value.starts_with("better-auth.session_token="))
        .unwrap_or_else(|| panic!("no session cookie: {response}"));
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    SignedIn {
        user_id,
        session_token,
        cookie,
        set_cookie: set_cookie.to_owned(),
        cache_cookie: cache_cookie(response),
    }
}

/// The `better-auth.session_data` cookie (or its `.0`, `.1`, … chunks) a
/// response sets, as a `Cookie` header fragment; `None` without one.
pub fn cache_cookie(response: &Response) -> Option<String> {
    let pairs: Vec<&str> = response
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, value)| value.split(';').next().unwrap_or_default())
        .filter(|pair| pair.starts_with("better-auth.session_data") && !pair.ends_with('='))
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

#[test]
fn a_real_better_auth_jwt_is_accepted_with_only_better_auth_url_set() {
    let server = BetterAuth::start();
    let user = sign_up_and_in(&server, "ada@example.com");
    let from_bearer = server.jwt(("authorization", &bearer(&user.session_token)));
    let from_cookie = server.jwt(("cookie", &user.cookie));
    let jwks = get(server.addr, "/api/auth/jwks", &[]).json();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();

    let mut function = start(AUTH_SESSION, &[("BETTER_AUTH_URL", &server.base_url)]);
    for token in [&from_bearer, &from_cookie] {
        let principal = assert_accepted(&session_with(&function, token));
        assert_eq!(principal["subject"], user.user_id.as_str());
        assert_eq!(principal["issuer"], server.base_url.as_str());
        assert_eq!(principal["method"], "jwt_jwks");
        assert_eq!(principal["algorithm"], "EdDSA");
        assert_eq!(principal["key_id"], kid.as_str());
        assert_eq!(principal["claims"]["email"], "ada@example.com");
        assert_eq!(principal["claims"]["name"], "Ada Lovelace");
        let expires_in = principal["expires_at"].as_i64().unwrap() - now();
        assert!(
            (890..=900).contains(&expires_in),
            "Better Auth's JWTs last 15 minutes: {principal}"
        );
    }

    // The session token itself, in the header or the cookie, is not a JWT:
    // named as what it is, with the way to get a JWT.
    for headers in [
        vec![("authorization", bearer(&user.session_token))],
        vec![("cookie", user.cookie.clone())],
    ] {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let response = get(function.addr(), SESSION, &headers);
        let body = assert_refused(
            &response,
            "token_malformed",
            &["Better Auth session token"],
            &["GET /api/auth/token"],
        );
        assert_eq!(body["facts"]["token_kind"], "better_auth_session");
        wait_logged(&mut function, &response);
    }

    let output = function.process.all_output();
    for value in [&user.session_token, &from_bearer, &from_cookie] {
        assert!(!output.contains(value.as_str()), "a token reached the log");
    }
    let session_id = user.session_token.split('.').next().unwrap();
    assert!(!output.contains(session_id));
}

#[test]
fn a_preview_issuer_pattern_accepts_better_auth_tokens_and_others_do_not() {
    let server = BetterAuth::start();
    let user = sign_up_and_in(&server, "grace@example.com");
    let token = server.jwt(("authorization", &bearer(&user.session_token)));

    // Every preview deployment has its own origin (here: its own port).
    let function = start(
        AUTH_SESSION,
        &[
            ("BETTER_AUTH_URL", &server.base_url),
            ("JWT_ISSUER", "http://127.0.0.1:*"),
            ("JWT_AUDIENCE", "http://127.0.0.1:*"),
        ],
    );
    let principal = assert_accepted(&session_with(&function, &token));
    assert_eq!(principal["subject"], user.user_id.as_str());
    assert_eq!(principal["issuer"], server.base_url.as_str());

    let function = start(
        AUTH_SESSION,
        &[
            ("BETTER_AUTH_URL", &server.base_url),
            ("JWT_ISSUER", "http://localhost:*"),
        ],
    );
    let response = session_with(&function, &token);
    let body = assert_refused(
        &response,
        "issuer_mismatch",
        &[&server.base_url],
        &[&server.base_url, "http://localhost:*"],
    );
    assert_eq!(body["facts"]["iss_expected"], "http://localhost:*");
}

#[test]
fn sessions_are_looked_up_before_and_after_gatehouses_migrations() {
    // Better Auth's tables only (this API's migrations not applied, so no
    // revocation): the inline statement answers, and the log says once how
    // to get the lookup whose plan each connection keeps.
    let server = BetterAuth::start();
    let user = sign_up_and_in(&server, "unmigrated@example.com");
    let env = [
        ("DATABASE_URL", server.db.url.as_str()),
        ("BETTER_AUTH_SECRET", server.secret.as_str()),
        ("TOKEN_REVOCATION", "off"),
    ];
    let lookups = |function: &mut crate::support::function::VercelFunction| {
        for _ in 0..3 {
            let response = get(function.addr(), SESSION, &[("cookie", &user.cookie)]);
            assert_eq!(assert_accepted(&response)["subject"], user.user_id.as_str());
        }
        // A refusal logged after them: everything before it is in the log.
        let response = session_with(function, "forged.AAAA");
        wait_logged(function, &response);
        crate::support::function::json_logs(function)
            .into_iter()
            .filter(|event| event["event"] == "better_auth_lookup_inline")
            .collect::<Vec<_>>()
    };
    let mut function = start(AUTH_SESSION, &env);
    let inline = lookups(&mut function);
    assert_eq!(inline.len(), 1, "{}", function.process.report());
    assert!(
        inline[0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("gatehouse migrate")),
        "{}",
        inline[0]
    );
    block_on(server.db.migrate());
    let mut function = start(AUTH_SESSION, &env);
    assert!(
        lookups(&mut function).is_empty(),
        "{}",
        function.process.report()
    );
    let functions = block_on(
        server
            .db
            .count("SELECT count(*) FROM pg_proc WHERE proname = 'gatehouse_better_auth_session'"),
    );
    assert_eq!(functions, 1);
}
