//! Better Auth's cookie cache (`session.cookieCache`, the
//! `better-auth.session_data` cookie) read by `auth-session` with
//! `BETTER_AUTH_COOKIE_CACHE`, side by side with a real Better Auth 1.7
//! server configured the same way, in each of its three strategies. Better
//! Auth's own `get-session` is asked at the same moments: Gatehouse must
//! read the cache where Better Auth does (no database read: a renamed user
//! and a deleted session row still show the cached copy), go to the
//! database where Better Auth does (expired, another version, another
//! secret), refuse a forged cache, and refuse a signed-out session no later
//! than Better Auth.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::better_auth::{BetterAuth, SignedIn, cache_cookie, sign_up_and_in};
use super::sessions::{AUTH_REVOKE, revoke};
use super::*;
use crate::support::function::{VercelFunction, block_on};
use crate::support::http_client::{Response, get};

const GET_SESSION: &str = "/api/auth/get-session";
const NAME: &str = "Ada Lovelace";
const RENAMED: &str = "Renamed In The Database";

/// Better Auth with `session.cookieCache` on: `strategy`, `maxAge` seconds.
fn better_auth(strategy: &str, max_age: &str, extra: &[(&str, &str)]) -> BetterAuth {
    let mut env = vec![
        ("COOKIE_CACHE", strategy),
        ("COOKIE_CACHE_MAX_AGE", max_age),
    ];
    env.extend_from_slice(extra);
    let server = BetterAuth::start_with(&env);
    block_on(server.db.migrate());
    server
}

/// `auth-session` on Better Auth's database with `env` added.
fn gatehouse(server: &BetterAuth, env: &[(&str, &str)]) -> VercelFunction {
    let mut all = vec![("DATABASE_URL", server.db.url.as_str())];
    all.extend_from_slice(env);
    start(AUTH_SESSION, &all)
}

/// The session cookie and the cookie cache, as the browser sends them.
fn both(user: &SignedIn) -> String {
    let cache = user
        .cache_cookie
        .as_deref()
        .expect("Better Auth set no session_data cookie: its cookie cache is off");
    format!("{}; {cache}", user.cookie)
}

fn session(function: &VercelFunction, cookies: &str) -> Response {
    get(function.addr(), SESSION, &[("cookie", cookies)])
}

/// Better Auth's own answer: the user's name, or `None` for no session.
fn better_auth_name(server: &BetterAuth, cookies: &str) -> (Option<String>, Response) {
    let response = get(server.addr, GET_SESSION, &[("cookie", cookies)]);
    assert_eq!(response.status, 200, "get-session: {response}");
    let body = response.json();
    let name = body["user"]["name"].as_str().map(str::to_owned);
    (name, response)
}

fn rename(server: &BetterAuth, user: &SignedIn) {
    block_on(server.db.execute(&format!(
        r#"UPDATE "user" SET name = '{RENAMED}' WHERE id = '{}'"#,
        user.user_id
    )));
}

fn name_of(principal: &Value) -> &str {
    principal["claims"]["name"].as_str().unwrap_or_default()
}

/// The cache with its signed content changed (the user's name), its
/// signature or tag kept: well formed, not authentic.
fn tampered(strategy: &str, cache: &str) -> String {
    let (name, value) = cache.split_once('=').unwrap();
    let altered = match strategy {
        "compact" => {
            let json = String::from_utf8(URL_SAFE_NO_PAD.decode(value).unwrap()).unwrap();
            assert!(json.contains(NAME), "{json}");
            URL_SAFE_NO_PAD.encode(json.replacen(NAME, "Eve", 1))
        }
        "jwt" => {
            let parts: Vec<&str> = value.split('.').collect();
            let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            assert!(claims.contains(NAME), "{claims}");
            let claims = URL_SAFE_NO_PAD.encode(claims.replacen(NAME, "Eve", 1));
            format!("{}.{claims}.{}", parts[0], parts[2])
        }
        "jwe" => {
            let mut parts: Vec<String> = value.split('.').map(str::to_owned).collect();
            let mut ciphertext = URL_SAFE_NO_PAD.decode(&parts[3]).unwrap();
            ciphertext[0] ^= 1;
            parts[3] = URL_SAFE_NO_PAD.encode(ciphertext);
            parts.join(".")
        }
        other => panic!("no strategy {other}"),
    };
    format!("{name}={altered}")
}

/// The whole story in one strategy, asking Better Auth at the same moments.
fn the_cache_is_read_as_better_auth_reads_it(strategy: &str) {
    const MAX_AGE: u64 = 8;
    let server = better_auth(strategy, &MAX_AGE.to_string(), &[]);
    let mut function = gatehouse(
        &server,
        &[
            ("BETTER_AUTH_SECRET", server.secret.as_str()),
            ("BETTER_AUTH_COOKIE_CACHE", strategy),
        ],
    );
    let user = sign_up_and_in(&server, &format!("{strategy}@example.com"));
    let signed_in = Instant::now();
    let cookies = both(&user);

    // From the cache, the principal is the one the database gives.
    let from_cache = assert_accepted(&session(&function, &cookies));
    let from_database = assert_accepted(&session(&function, &user.cookie));
    assert_eq!(from_cache, from_database, "{strategy}");
    assert_eq!(from_cache["method"], "better_auth_session");
    assert_eq!(from_cache["subject"], user.user_id.as_str());
    assert_eq!(
        from_cache["claims"]["email"],
        format!("{strategy}@example.com")
    );

    // The user renamed in the database: the cache still says the old name,
    // to Better Auth and to Gatehouse alike; without it, the new one.
    rename(&server, &user);
    assert_eq!(
        better_auth_name(&server, &cookies).0.as_deref(),
        Some(NAME),
        "{strategy}"
    );
    assert_eq!(
        name_of(&assert_accepted(&session(&function, &cookies))),
        NAME
    );
    assert_eq!(
        name_of(&assert_accepted(&session(&function, &user.cookie))),
        RENAMED
    );

    // A forged cache beside a valid session cookie is refused.
    let forged = format!(
        "{}; {}",
        user.cookie,
        tampered(strategy, user.cache_cookie.as_deref().unwrap())
    );
    let response = session(&function, &forged);
    let body = assert_refused(
        &response,
        "cookie_signature_invalid",
        &["cookie cache", "better-auth.session_data", strategy],
        &["BETTER_AUTH_SECRET"],
    );
    assert_eq!(body["facts"]["token_kind"], "better_auth_session");
    wait_logged(&mut function, &response);
    assert!(
        signed_in.elapsed() < Duration::from_secs(MAX_AGE - 1),
        "the checks above took longer than the cache lives: they prove nothing"
    );

    // Expired: both read the database (the new name), and Better Auth
    // writes a fresh cache.
    let deadline = Instant::now() + Duration::from_secs(MAX_AGE + 5);
    let fresh = loop {
        let (name, response) = better_auth_name(&server, &cookies);
        // Gatehouse may give the cache up first (by up to a second).
        let ours = name_of(&assert_accepted(&session(&function, &cookies))).to_owned();
        if name.as_deref() == Some(RENAMED) && ours == RENAMED {
            break cache_cookie(&response)
                .expect("Better Auth wrote no new cache after reading the database");
        }
        assert!(
            Instant::now() < deadline,
            "{strategy}: the cache never expired"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let cookies = format!("{}; {fresh}", user.cookie);
    assert_eq!(
        name_of(&assert_accepted(&session(&function, &cookies))),
        RENAMED
    );

    // Signed out in Better Auth: the row is gone, the client keeps both
    // cookies. Asked at the same moments (Better Auth first), Gatehouse
    // never accepts once Better Auth refuses, and stops within the cache's
    // life, having accepted from the cache meanwhile as Better Auth does.
    server.sign_out(&cookies);
    let signed_out = Instant::now();
    let mut accepted_after_sign_out = 0;
    loop {
        let (theirs, _) = better_auth_name(&server, &cookies);
        let response = session(&function, &cookies);
        match (theirs.is_some(), response.status) {
            (_, 200) => {
                assert!(
                    theirs.is_some(),
                    "{strategy}: Gatehouse accepted a session Better Auth had already refused"
                );
                accepted_after_sign_out += 1;
            }
            (_, 401) => {
                assert_refused(&response, "session_not_found", &[], &[]);
                break;
            }
            _ => panic!("{strategy}: {response}"),
        }
        assert!(
            signed_out.elapsed() < Duration::from_secs(MAX_AGE + 2),
            "{strategy}: Gatehouse still accepts a signed-out session past the cache's maxAge"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        accepted_after_sign_out > 0,
        "{strategy}: never accepted from the cache after sign-out (no proof the database was not read)"
    );
    // Better Auth gives it up within a second of Gatehouse.
    let deadline = Instant::now() + Duration::from_secs(3);
    while better_auth_name(&server, &cookies).0.is_some() {
        assert!(
            Instant::now() < deadline,
            "{strategy}: Better Auth kept the session"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let output = function.process.all_output();
    let value = fresh.split_once('=').unwrap().1;
    assert!(!output.contains(value), "the cookie cache reached the log");
    assert!(
        !output.contains(&server.secret),
        "the secret reached the log"
    );
}

#[test]
fn a_compact_cache_is_read_as_better_auth_reads_it() {
    the_cache_is_read_as_better_auth_reads_it("compact");
}

#[test]
fn a_jwt_cache_is_read_as_better_auth_reads_it() {
    the_cache_is_read_as_better_auth_reads_it("jwt");
}

#[test]
fn a_jwe_cache_is_read_as_better_auth_reads_it() {
    the_cache_is_read_as_better_auth_reads_it("jwe");
}

#[test]
fn rotated_secrets_read_the_cache_as_better_auth_does() {
    let old = unique_secret("old");
    let new = unique_secret("new");
    let newer = unique_secret("newer");
    let rotation = format!("2:{new},1:{old}");
    let ahead = format!("3:{newer},2:{new},1:{old}");
    for strategy in ["compact", "jwt", "jwe"] {
        let server = better_auth(strategy, "300", &[("BETTER_AUTH_SECRETS", &rotation)]);
        let user = sign_up_and_in(&server, "rotation@example.com");
        let cookies = both(&user);
        rename(&server, &user);
        assert_eq!(better_auth_name(&server, &cookies).0.as_deref(), Some(NAME));

        // The same rotation: read from the cache.
        let same = gatehouse(
            &server,
            &[
                ("BETTER_AUTH_SECRETS", &rotation),
                ("BETTER_AUTH_COOKIE_CACHE", strategy),
            ],
        );
        assert_eq!(name_of(&assert_accepted(&session(&same, &cookies))), NAME);

        // Rotated one step further here: compact and jwt caches are trusted
        // only under the newest secret (Better Auth's own rule), so the
        // database answers; jwe opens with any listed secret.
        let further = gatehouse(
            &server,
            &[
                ("BETTER_AUTH_SECRETS", &ahead),
                ("BETTER_AUTH_COOKIE_CACHE", strategy),
            ],
        );
        let expected = if strategy == "jwe" { NAME } else { RENAMED };
        assert_eq!(
            name_of(&assert_accepted(&session(&further, &cookies))),
            expected,
            "{strategy}"
        );

        // Only the old secret: the session cookie itself does not verify.
        let behind = gatehouse(
            &server,
            &[
                ("BETTER_AUTH_SECRET", &old),
                ("BETTER_AUTH_COOKIE_CACHE", strategy),
            ],
        );
        assert_refused(
            &session(&behind, &cookies),
            "cookie_signature_invalid",
            &["does not verify"],
            &["BETTER_AUTH_SECRET"],
        );
    }
}

#[test]
fn another_version_or_strategy_reads_the_database_and_revocation_still_applies() {
    let server = better_auth("compact", "300", &[("COOKIE_CACHE_VERSION", "7")]);
    let user = sign_up_and_in(&server, "version@example.com");
    let cookies = both(&user);
    rename(&server, &user);
    assert_eq!(better_auth_name(&server, &cookies).0.as_deref(), Some(NAME));
    let secret = ("BETTER_AUTH_SECRET", server.secret.as_str());

    // Better Auth's version is 7: a cache of version 1 expectations is
    // another version, read from the database.
    let unversioned = gatehouse(&server, &[secret, ("BETTER_AUTH_COOKIE_CACHE", "compact")]);
    assert_eq!(
        name_of(&assert_accepted(&session(&unversioned, &cookies))),
        RENAMED
    );
    // Another strategy than Better Auth's: not readable, the database.
    let other = gatehouse(&server, &[secret, ("BETTER_AUTH_COOKIE_CACHE", "jwe")]);
    assert_eq!(
        name_of(&assert_accepted(&session(&other, &cookies))),
        RENAMED
    );
    // Off (the default): the database.
    let off = gatehouse(&server, &[secret]);
    assert_eq!(name_of(&assert_accepted(&session(&off, &cookies))), RENAMED);
    // The same version: the cache.
    let versioned = gatehouse(
        &server,
        &[
            secret,
            ("BETTER_AUTH_COOKIE_CACHE", "compact"),
            ("BETTER_AUTH_COOKIE_CACHE_VERSION", "7"),
        ],
    );
    let principal = assert_accepted(&session(&versioned, &cookies));
    assert_eq!(name_of(&principal), NAME);

    // Revoked through Gatehouse (another process): its row is deleted, and
    // the cached copy is refused too, from each process's revocation state
    // (within REVOCATION_SYNC_MS), although Better Auth would still accept
    // it from the cache.
    let revoker = start(
        AUTH_REVOKE,
        &[("DATABASE_URL", server.db.url.as_str()), secret],
    );
    let response = revoke(&revoker, &[("cookie", cookies.clone())], &json!({}));
    assert_eq!(response.status, 200, "{response}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = session(&versioned, &cookies);
        if response.status == 401 {
            assert_refused(&response, "token_revoked", &["revoked"], &["sign in again"]);
            break;
        }
        assert_eq!(response.status, 200, "{response}");
        assert!(
            Instant::now() < deadline,
            "the revocation never reached the other process"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(better_auth_name(&server, &cookies).0.as_deref(), Some(NAME));
}
