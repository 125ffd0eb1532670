//! Sessions this API owns, through the real `auth-exchange`, `auth-logout`
//! and `auth-session` binaries on a real Postgres: a `jose` JWT is traded
//! for a session whose cookie has the attributes browsers require; the
//! session answers with the same principal as a bearer token or a cookie,
//! survives a restart and is shared by instances, slides its expiry, and
//! ends on logout (one, or all of the caller's).

use serde_json::{Value, json};

use super::*;
use crate::support::db::TestDb;
use crate::support::function::{VercelFunction, block_on, run_cli};
use crate::support::http_client::{Response, get, send};
use crate::support::mint::{jose_one, secret_spec};

const AUTH_EXCHANGE: &str = env!("CARGO_BIN_EXE_auth-exchange");
const AUTH_LOGOUT: &str = env!("CARGO_BIN_EXE_auth-logout");
const COOKIE: &str = "__Host-gatehouse_session";

struct Deployment {
    db: TestDb,
    secret: String,
    env: Vec<(String, String)>,
}

impl Deployment {
    fn new(extra: &[(&str, &str)]) -> Deployment {
        let db = block_on(TestDb::create());
        block_on(db.migrate());
        let secret = unique_secret("api-sessions");
        let mut env = vec![
            ("DATABASE_URL".to_owned(), db.url.clone()),
            ("JWT_SECRET".to_owned(), secret.clone()),
            (
                "CORS_ORIGINS".to_owned(),
                "https://app.example.com".to_owned(),
            ),
        ];
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Deployment { db, secret, env }
    }

    fn start(&self, program: &str) -> VercelFunction {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        start(program, &env)
    }

    fn jwt(&self, sub: &str) -> String {
        jose_one(secret_spec(
            "HS256",
            &self.secret,
            &json!({ "sub": sub, "email": format!("{sub}@example.com"), "exp": now() + 600 }),
        ))
    }
}

#[track_caller]
fn post(function: &VercelFunction, path: &str, headers: &[(&str, &str)]) -> Response {
    send(function.addr(), "POST", path, headers, "")
}

#[track_caller]
fn exchange(function: &VercelFunction, jwt: &str) -> (Response, String) {
    let response = post(
        function,
        "/api/auth/exchange",
        &[("authorization", &bearer(jwt))],
    );
    assert_eq!(response.status, 201, "{response}");
    let token = response.json()["token"].as_str().unwrap().to_owned();
    (response, token)
}

fn cookie(token: &str) -> String {
    format!("{COOKIE}={token}")
}

#[test]
fn an_exchanged_session_is_the_same_principal_by_cookie_or_bearer_and_survives_restarts() {
    let deployment = Deployment::new(&[]);
    let exchanger = deployment.start(AUTH_EXCHANGE);
    let jwt = deployment.jwt("ada");
    let (response, token) = exchange(&exchanger, &jwt);
    assert!(token.starts_with("gs_") && token.len() == 46, "{response}");
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!((86_400 - 5..=86_400).contains(&expires_in), "{response}");
    assert_eq!(body["principal"]["subject"], "ada");
    // The cookie browsers keep: host-only, Secure, HttpOnly, Lax.
    assert_eq!(
        response.header("set-cookie"),
        Some(
            format!(
                "{COOKIE}={token}; Path=/; Max-Age={expires_in}; HttpOnly; Secure; SameSite=Lax"
            )
            .as_str()
        )
    );
    // Only the hash is stored.
    let stored = block_on(deployment.db.count(&format!(
        "SELECT count(*) FROM gatehouse_sessions WHERE subject = 'shared-secret:ada' AND token_hash = sha256('{token}'::bytea)"
    )));
    assert_eq!(stored, 1);
    let plain = block_on(deployment.db.count(&format!(
        "SELECT count(*) FROM gatehouse_sessions WHERE principal::text LIKE '%{}%'",
        &token[3..]
    )));
    assert_eq!(plain, 0);

    let session = deployment.start(AUTH_SESSION);
    let by_jwt = assert_accepted(&session_with(&session, &jwt));
    let by_bearer = assert_accepted(&session_with(&session, &token));
    let by_cookie = assert_accepted(&get(
        session.addr(),
        SESSION,
        &[("cookie", &cookie(&token))],
    ));
    for principal in [&by_bearer, &by_cookie] {
        assert_eq!(principal["subject"], by_jwt["subject"]);
        assert_eq!(principal["issuer"], by_jwt["issuer"]);
        assert_eq!(principal["claims"], by_jwt["claims"]);
        assert_eq!(principal["method"], "gatehouse_session");
        assert_eq!(principal["session_id"], body["session_id"]);
    }
    assert_eq!(by_cookie["credential_source"], format!("cookie:{COOKIE}"));

    // Another instance, and a restarted one, know it: nothing is in memory.
    let other = deployment.start(AUTH_SESSION);
    assert_accepted(&session_with(&other, &token));
    drop(session);
    drop(other);
    let restarted = deployment.start(AUTH_SESSION);
    assert_accepted(&session_with(&restarted, &token));
    for function in [&exchanger, &restarted] {
        let logs = function.process.all_output();
        assert!(
            !logs.contains(&token) && !logs.contains(&jwt),
            "a credential was logged"
        );
    }
}

#[test]
fn logout_ends_one_session_or_all_and_clears_the_cookie() {
    let deployment = Deployment::new(&[]);
    let exchanger = deployment.start(AUTH_EXCHANGE);
    let logout = deployment.start(AUTH_LOGOUT);
    let session = deployment.start(AUTH_SESSION);
    let jwt = deployment.jwt("grace");
    let (_, first) = exchange(&exchanger, &jwt);
    let (_, second) = exchange(&exchanger, &jwt);
    let (_, someone_elses) = exchange(&exchanger, &deployment.jwt("linus"));

    let ended = post(&logout, "/api/auth/logout", &[("cookie", &cookie(&first))]);
    assert_eq!(ended.status, 200, "{ended}");
    assert_eq!(
        ended.json(),
        json!({ "outcome": "logged_out", "sessions_ended": 1 })
    );
    assert_eq!(
        ended.header("set-cookie"),
        Some(format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax").as_str())
    );
    assert_refused(
        &session_with(&session, &first),
        "session_not_found",
        &["ended by POST /api/auth/logout"],
        &["POST /api/auth/exchange"],
    );
    assert_accepted(&session_with(&session, &second));
    // Logging out again is not an error: the stale cookie is cleared.
    let again = post(&logout, "/api/auth/logout", &[("cookie", &cookie(&first))]);
    assert_eq!(again.status, 200, "{again}");
    assert_eq!(again.json()["sessions_ended"], 0);
    // A JWT is not a session of this API: named, with the way to end them all.
    let not_a_session = post(
        &logout,
        "/api/auth/logout",
        &[("authorization", &bearer(&jwt))],
    );
    let body = not_a_session.assert_problem(403, "forbidden");
    assert!(
        body["hint"].as_str().unwrap().contains("?all=true"),
        "{not_a_session}"
    );
    // Everywhere: every session of the caller, and no one else's.
    let all = post(
        &logout,
        "/api/auth/logout?all=true",
        &[("authorization", &bearer(&jwt))],
    );
    assert_eq!(
        all.json(),
        json!({ "outcome": "logged_out_everywhere", "sessions_ended": 1 })
    );
    assert_refused(
        &session_with(&session, &second),
        "session_not_found",
        &[],
        &[],
    );
    assert_accepted(&session_with(&session, &someone_elses));
}

#[test]
fn expiry_slides_while_in_use_and_an_unused_session_expires() {
    let deployment = Deployment::new(&[("SESSION_TTL_SECS", "600")]);
    let exchanger = deployment.start(AUTH_EXCHANGE);
    let session = deployment.start(AUTH_SESSION);
    let (response, token) = exchange(&exchanger, &deployment.jwt("ada"));
    assert!(
        response
            .header("set-cookie")
            .unwrap()
            .contains("Max-Age=600;")
    );
    // Last refreshed 5 minutes ago, expiring in 5: a use slides it to 10.
    block_on(deployment.db.execute(
        "UPDATE gatehouse_sessions SET refreshed_at = now() - interval '300 seconds', expires_at = now() + interval '300 seconds'",
    ));
    let principal = assert_accepted(&session_with(&session, &token));
    let left = principal["expires_at"].as_i64().unwrap() - now();
    assert!(
        (590..=600).contains(&left),
        "slid to the full lifetime: {left} s"
    );
    let in_db = block_on(
        deployment
            .db
            .count("SELECT extract(epoch FROM expires_at - now())::int8 FROM gatehouse_sessions"),
    );
    assert!((590..=600).contains(&in_db), "{in_db}");
    // Unused past its expiry: refused as expired.
    block_on(
        deployment
            .db
            .execute("UPDATE gatehouse_sessions SET expires_at = now() - interval '1 second'"),
    );
    assert_refused(
        &session_with(&session, &token),
        "session_expired",
        &["expired at"],
        &["SESSION_TTL_SECS"],
    );
}

#[test]
fn api_keys_and_foreign_origins_cannot_exchange_and_settings_are_validated() {
    let deployment = Deployment::new(&[("SESSION_COOKIE_SAMESITE", "none")]);
    let exchanger = deployment.start(AUTH_EXCHANGE);
    let output = run_cli(
        &[
            "api-keys",
            "create",
            "--name",
            "job",
            "--scope",
            "auth:session",
        ],
        &[("DATABASE_URL", &deployment.db.url)],
        "",
    );
    let key = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let refused = post(&exchanger, "/api/auth/exchange", &[("x-api-key", &key)]);
    let body = refused.assert_problem(403, "forbidden");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("sessions are for users"),
        "{refused}"
    );
    // A page of another site cannot mint a session with the user's cookies.
    let jwt = deployment.jwt("ada");
    let forged = post(
        &exchanger,
        "/api/auth/exchange",
        &[
            ("authorization", &bearer(&jwt)),
            ("origin", "https://evil.example"),
        ],
    );
    forged.assert_problem(403, "origin_not_allowed");
    // The configured frontend can, and SameSite=None always comes with Secure.
    let allowed = post(
        &exchanger,
        "/api/auth/exchange",
        &[
            ("authorization", &bearer(&jwt)),
            ("origin", "https://app.example.com"),
        ],
    );
    assert_eq!(allowed.status, 201, "{allowed}");
    let set_cookie = allowed.header("set-cookie").unwrap();
    assert!(
        set_cookie.ends_with("; HttpOnly; Secure; SameSite=None"),
        "{set_cookie}"
    );

    for (variable, value) in [
        ("SESSION_COOKIE_SAMESITE", "sometimes"),
        ("SESSION_COOKIE_DOMAIN", "vercel.app"),
        ("SESSION_TTL_SECS", "5"),
    ] {
        let misconfigured = start(
            AUTH_EXCHANGE,
            &[
                ("DATABASE_URL", &deployment.db.url),
                ("JWT_SECRET", &deployment.secret),
                (variable, value),
            ],
        );
        let response = post(&misconfigured, "/api/auth/exchange", &[]);
        let body = response.assert_problem(500, "misconfigured");
        let problems: Vec<Value> = body["problems"].as_array().cloned().unwrap_or_default();
        assert!(
            problems.iter().any(|p| p["variable"] == variable),
            "{variable}: {response}"
        );
    }
}

/// A revoked session stays revoked: it is refused before it could slide its
/// expiry, its row is deleted, and it does not come back once the revocation
/// itself is gone (its row purged after the old expiry, a cutoff cleared).
#[test]
fn a_revoked_session_never_comes_back() {
    let deployment = Deployment::new(&[]);
    let exchanger = deployment.start(AUTH_EXCHANGE);
    let checker = deployment.start(AUTH_SESSION);
    let revoker = deployment.start(super::sessions::AUTH_REVOKE);
    let sessions = |subject: &str| {
        block_on(deployment.db.count(&format!(
            "SELECT count(*) FROM gatehouse_sessions WHERE subject = 'shared-secret:{subject}'"
        )))
    };

    // Revoked by itself, with its own token.
    let (_, alice) = exchange(&exchanger, &deployment.jwt("alice"));
    assert_accepted(&session_with(&checker, &alice));
    let response = post(
        &revoker,
        "/api/auth/revoke",
        &[("authorization", &bearer(&alice))],
    );
    assert_eq!(response.status, 200, "{response}");
    let body = response.json();
    assert_eq!(body["revoked"], "session", "{response}");
    assert_eq!(body["by"], "session_id", "{response}");
    assert_eq!(body["method"], "gatehouse_session", "{response}");
    assert_eq!(sessions("alice"), 0, "the session row is deleted");
    block_on(
        deployment
            .db
            .execute("DELETE FROM gatehouse_revoked_tokens"),
    );
    session_with(&checker, &alice).assert_problem(401, "session_not_found");

    // Revoked by a sign-out-everywhere cutoff written elsewhere (another
    // deployment), while a slide is due: refused, not slid, deleted.
    let (_, bob) = exchange(&exchanger, &deployment.jwt("bob"));
    block_on(deployment.db.execute(
        "UPDATE gatehouse_sessions
            SET created_at = now() - interval '1 hour', refreshed_at = now() - interval '40 days'
          WHERE subject = 'shared-secret:bob';
         INSERT INTO gatehouse_subject_cutoffs (subject, not_before)
         VALUES ('shared-secret:bob', date_trunc('second', now()))",
    ));
    assert_refused(
        &session_with(&checker, &bob),
        "token_revoked",
        &["sign-out everywhere"],
        &[],
    );
    assert_eq!(sessions("bob"), 0, "the revoked session's row is deleted");
    block_on(
        deployment
            .db
            .execute("DELETE FROM gatehouse_subject_cutoffs"),
    );
    session_with(&checker, &bob).assert_problem(401, "session_not_found");
}

/// The attack: a 2-minute JWT became a 30-day session that survived every
/// way of retiring the JWT. A session now ends with its source, and with its
/// absolute lifetime; a session cannot be exchanged for another.
#[test]
fn a_session_ends_with_what_it_was_exchanged_for() {
    let old_secret = unique_secret("previous");
    let deployment = Deployment::new(&[("TOKEN_VERSION", "1")]);
    let rotating: Vec<(&str, &str)> = deployment
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("JWT_SECRET_PREVIOUS", old_secret.as_str())])
        .collect();
    let exchanger = start(AUTH_EXCHANGE, &rotating);
    let checker = start(AUTH_SESSION, &rotating);
    let revoker = start(super::sessions::AUTH_REVOKE, &rotating);
    let mint = |secret: &str, claims: Value| {
        jose_one(secret_spec(
            "HS256",
            secret,
            &with(
                &json!({ "sub": "ada", "token_version": 1, "exp": now() + 120 }),
                claims,
            ),
        ))
    };
    let sessions =
        || {
            block_on(deployment.db.count(
                "SELECT count(*) FROM gatehouse_sessions WHERE subject = 'shared-secret:ada'",
            ))
        };

    // Revoking the JWT (by jti) ends the sessions made from it.
    let jwt = mint(&deployment.secret, json!({ "jti": "two-minutes" }));
    let (_, session) = exchange(&exchanger, &jwt);
    assert_accepted(&session_with(&checker, &session));
    let response = post(
        &revoker,
        "/api/auth/revoke",
        &[("authorization", &bearer(&jwt))],
    );
    assert_eq!(response.status, 200, "{response}");
    assert_eq!(response.json()["by"], "jti", "{response}");
    assert_eq!(response.json()["sessions_ended"], 1, "{response}");
    session_with(&checker, &session).assert_problem(401, "session_not_found");

    // A session cannot be exchanged for another.
    let (_, session) = exchange(&exchanger, &mint(&deployment.secret, json!({})));
    let refused = post(
        &exchanger,
        "/api/auth/exchange",
        &[("authorization", &bearer(&session))],
    );
    let body = refused.assert_problem(403, "forbidden");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be exchanged"),
        "{refused}"
    );

    // TOKEN_VERSION raised: the session's source is retired.
    let raised: Vec<(&str, &str)> = rotating
        .iter()
        .map(|(k, v)| {
            if *k == "TOKEN_VERSION" {
                (*k, "2")
            } else {
                (*k, *v)
            }
        })
        .collect();
    let after_raise = start(AUTH_SESSION, &raised);
    assert_refused(
        &session_with(&after_raise, &session),
        "token_version_stale",
        &["exchanged for"],
        &[],
    );

    // JWT_SECRET_PREVIOUS removed: a session exchanged for a token signed
    // with it ends; one whose token was signed with JWT_SECRET stays.
    let (_, by_old) = exchange(&exchanger, &mint(&old_secret, json!({})));
    let (_, by_current) = exchange(&exchanger, &mint(&deployment.secret, json!({})));
    let without_previous = deployment.start(AUTH_SESSION);
    assert_refused(
        &session_with(&without_previous, &by_old),
        "signature_invalid",
        &["no longer holds"],
        &[],
    );
    assert_accepted(&session_with(&without_previous, &by_current));

    // A refusal for a lasting reason deletes the session.
    let before = sessions();
    assert_refused(
        &session_with(&without_previous, &by_old),
        "session_not_found",
        &[],
        &[],
    );
    assert_eq!(sessions(), before);

    // The absolute lifetime, however much the session slides.
    let short = start(
        AUTH_SESSION,
        &rotating
            .iter()
            .copied()
            .chain([("SESSION_MAX_LIFETIME_SECS", "3600")])
            .collect::<Vec<_>>(),
    );
    block_on(deployment.db.execute(&format!(
        "UPDATE gatehouse_sessions SET created_at = now() - interval '2 hours', refreshed_at = now()
          WHERE token_hash = sha256('{by_current}'::bytea)"
    )));
    assert_refused(
        &session_with(&short, &by_current),
        "session_expired",
        &["absolute lifetime"],
        &[],
    );
}

/// The table keeps only live sessions: each subject holds at most
/// `SESSION_MAX_PER_SUBJECT` (the least recently used end first), and each
/// exchange deletes a bounded number of expired ones.
#[test]
fn sessions_are_capped_per_subject_and_expired_ones_purged() {
    let deployment = Deployment::new(&[("SESSION_MAX_PER_SUBJECT", "3")]);
    let exchanger = deployment.start(AUTH_EXCHANGE);
    let checker = deployment.start(AUTH_SESSION);
    let count = |sql: &str| block_on(deployment.db.count(sql));
    block_on(deployment.db.execute(
        "INSERT INTO gatehouse_sessions (id, token_hash, subject, principal, expires_at)
         SELECT gen_random_uuid(), sha256(i::text::bytea), 'gone-' || i, '{}', now() - interval '1 minute'
           FROM generate_series(1, 40) i",
    ));
    let jwt = deployment.jwt("ada");
    let tokens: Vec<String> = (0..5).map(|_| exchange(&exchanger, &jwt).1).collect();
    assert_eq!(
        count("SELECT count(*) FROM gatehouse_sessions WHERE subject = 'shared-secret:ada'"),
        3
    );
    for old in &tokens[..2] {
        session_with(&checker, old).assert_problem(401, "session_not_found");
    }
    for live in &tokens[2..] {
        assert_accepted(&session_with(&checker, live));
    }
    // 5 exchanges, at most 16 expired rows each: all 40 gone.
    assert_eq!(
        count("SELECT count(*) FROM gatehouse_sessions WHERE expires_at < now()"),
        0
    );
}

/// Removing an issuer from the configuration ends the sessions exchanged
/// for its tokens, as it ends the tokens themselves.
#[test]
fn a_session_ends_when_its_issuer_is_no_longer_trusted() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let keys = json!({ "keys": [jwk(KID_RSA)] }).to_string();
    let trusting = |issuer: &str| {
        vec![
            ("DATABASE_URL", db.url.clone()),
            ("JWT_PUBLIC_KEYS", keys.clone()),
            ("JWT_ISSUER", issuer.to_owned()),
            ("JWT_AUDIENCE", AUDIENCE.to_owned()),
        ]
    };
    let before = trusting(ISSUER);
    let before: Vec<(&str, &str)> = before.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let exchanger = start(AUTH_EXCHANGE, &before);
    let token = jose_one(spec("RS256", KID_RSA, &claims("ada")));
    let (_, session) = exchange(&exchanger, &token);
    assert_accepted(&session_with(&start(AUTH_SESSION, &before), &session));

    let after = trusting("https://another-issuer.example");
    let after: Vec<(&str, &str)> = after.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let checker = start(AUTH_SESSION, &after);
    assert_refused(
        &session_with(&checker, &session),
        "issuer_mismatch",
        &["no longer trusts"],
        &[],
    );
}
