//! Better Auth sessions validated by asking the auth server
//! (`AUTH_SERVER_URL`): against a real Better Auth 1.7 server (accepted,
//! cached no longer than its TTL, signed out, stopped), and against loopback
//! stand-ins for the ways an auth server fails (silent, an HTML page) and
//! for counting its get-session calls.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::better_auth::{BetterAuth, sign_in, sign_up_and_in};
use super::*;
use crate::support::function::VercelFunction;
use crate::support::http_client::{Response, get};
use crate::support::jwks_server::{JWKS_PATH, JwksServer, Reply};

/// What a Better Auth server's get-session answers for a live session.
const GET_SESSION_BODY: &str = r#"{"session":{"id":"s1","token":"t","userId":"u1","expiresAt":"2099-01-01T00:00:00.000Z","createdAt":"2026-01-01T00:00:00.000Z"},"user":{"id":"u1","email":"u1@example.com","name":"U"}}"#;

#[track_caller]
fn with_cookie(function: &VercelFunction, cookie: &str) -> Response {
    get(function.addr(), SESSION, &[("cookie", cookie)])
}

/// The base URL of a loopback JWKS-style server (it answers on any path).
fn base_url(server: &JwksServer) -> String {
    server.url().trim_end_matches(JWKS_PATH).to_owned()
}

/// A cookie with a Better Auth session token no server has issued.
fn random_cookie() -> String {
    format!(
        "better-auth.session_token={}",
        better_auth_session_token(true)
    )
}

#[test]
fn a_real_better_auth_session_is_validated_remotely_and_cached_no_longer_than_its_ttl() {
    let server = BetterAuth::start();
    let user = sign_up_and_in(&server, "remote@example.com");
    let mut function = start(
        AUTH_SESSION,
        &[
            ("AUTH_SERVER_URL", server.base_url.as_str()),
            ("AUTH_SERVER_CACHE_TTL_SECS", "1"),
        ],
    );

    let by_cookie = assert_accepted(&with_cookie(&function, &user.cookie));
    let by_bearer = assert_accepted(&session_with(&function, &user.session_token));
    for principal in [&by_cookie, &by_bearer] {
        assert_eq!(principal["method"], "better_auth_remote", "{principal}");
        assert_eq!(principal["subject"], user.user_id.as_str(), "{principal}");
        assert_eq!(principal["claims"]["email"], "remote@example.com");
        assert_eq!(principal["claims"]["name"], "Ada Lovelace");
        assert!(principal["session_id"].is_string(), "{principal}");
        let expires_in = principal["expires_at"].as_i64().unwrap() - now();
        assert!(
            (7 * 86_400 - 60..=7 * 86_400).contains(&expires_in),
            "Better Auth sessions last 7 days: {principal}"
        );
    }
    assert_eq!(
        by_cookie["credential_source"],
        "cookie:better-auth.session_token"
    );
    assert_eq!(by_bearer["credential_source"], "authorization_header");

    // Signed out through Better Auth while the answer is cached: still
    // accepted within the TTL (the cache works, no call was made)...
    let second = sign_in(&server, "remote@example.com", &user.user_id);
    assert_accepted(&with_cookie(&function, &second.cookie));
    let cached_at = Instant::now();
    server.sign_out(&second.cookie);
    let response = with_cookie(&function, &second.cookie);
    assert!(
        cached_at.elapsed() < Duration::from_millis(900),
        "sign-out took {:?}, too long to check the cache within its 1 s TTL",
        cached_at.elapsed()
    );
    let principal = assert_accepted(&response);
    assert_eq!(principal["method"], "better_auth_remote");
    // ...and refused once the TTL has passed: never served past it.
    std::thread::sleep(Duration::from_millis(1200));
    let response = with_cookie(&function, &second.cookie);
    assert_refused(
        &response,
        "session_not_found",
        &["reports no valid session", &server.base_url],
        &["sign in again"],
    );
    wait_logged(&mut function, &response);
    // The first session was not touched by the other one's sign-out.
    assert_accepted(&with_cookie(&function, &user.cookie));

    // The auth server stops: a session it has not vouched for yet is a 503
    // (our dependency failing), never a 401 that would sign the user out.
    let third = sign_in(&server, "remote@example.com", &user.user_id);
    let BetterAuth { process, db, .. } = server;
    drop(process);
    for response in [
        with_cookie(&function, &third.cookie),
        session_with(&function, &third.session_token),
    ] {
        assert_refused(
            &response,
            "auth_server_unavailable",
            &["could not validate the session"],
            &["AUTH_SERVER_URL"],
        );
    }

    let output = function.process.all_output();
    for user in [&user, &second, &third] {
        let value = user.cookie.split_once('=').unwrap().1;
        let token = user.session_token.split('.').next().unwrap();
        for secret in [value, user.session_token.as_str(), token] {
            assert!(!output.contains(secret), "a session token reached the log");
        }
    }
    drop(db);
}

/// An auth server that accepts connections and never answers. It holds them
/// for at most `lifetime`, and stops on drop.
struct SilentServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentServer {
    fn start(lifetime: Duration) -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the silent server");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the silent server's address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + lifetime;
            let mut held = Vec::new();
            while !stopping.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        SilentServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_silent_auth_server_is_a_503_within_the_timeout() {
    let silent = SilentServer::start(Duration::from_secs(15));
    let function = start(
        AUTH_SESSION,
        &[
            ("AUTH_SERVER_URL", &format!("http://{}", silent.addr)),
            ("AUTH_SERVER_TIMEOUT_SECS", "0.5"),
        ],
    );
    let started = Instant::now();
    let response = with_cookie(&function, &random_cookie());
    let took = started.elapsed();
    assert_refused(
        &response,
        "auth_server_unavailable",
        &["did not answer within 0.5 s"],
        &["retry shortly"],
    );
    assert!(
        took < Duration::from_secs(2),
        "answered after {took:?}: {response}"
    );
}

#[test]
fn an_auth_server_answering_html_or_foreign_json_is_a_503_naming_it() {
    let server = JwksServer::start(Reply::html());
    let function = start(AUTH_SESSION, &[("AUTH_SERVER_URL", &base_url(&server))]);
    let response = with_cookie(&function, &random_cookie());
    assert_refused(
        &response,
        "auth_server_unavailable",
        &[
            "/api/auth/get-session answered HTTP 200 with a body that is not JSON",
            "text/html",
            "something other than the Better Auth server",
        ],
        &["AUTH_SERVER_URL"],
    );

    // JSON, but not a session: not cached, asked again, named.
    server.set(Reply::status(200));
    let response = with_cookie(&function, &random_cookie());
    assert_refused(
        &response,
        "auth_server_unavailable",
        &["not a Better Auth session"],
        &[],
    );
    assert_eq!(server.requests(), 2);
}

#[test]
fn sixteen_concurrent_requests_with_one_cookie_make_one_get_session_call() {
    let server = JwksServer::start(Reply {
        status: 200,
        content_type: Some("application/json".to_owned()),
        cache_control: None,
        date: None,
        body: GET_SESSION_BODY.to_owned(),
        // Long enough for every request to arrive while the call is out.
        delay: Duration::from_millis(400),
    });
    let function = start(AUTH_SESSION, &[("AUTH_SERVER_URL", &base_url(&server))]);
    let cookie = random_cookie();
    let addr = function.addr();
    let barrier = Arc::new(Barrier::new(16));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let barrier = barrier.clone();
            let cookie = cookie.clone();
            std::thread::spawn(move || {
                barrier.wait();
                get(addr, SESSION, &[("cookie", &cookie)])
            })
        })
        .collect();
    for worker in workers {
        let principal = assert_accepted(&worker.join().unwrap());
        assert_eq!(principal["method"], "better_auth_remote");
        assert_eq!(principal["subject"], "u1");
        assert_eq!(principal["session_id"], "s1");
        assert_eq!(principal["claims"]["email"], "u1@example.com");
    }
    assert_eq!(server.requests(), 1, "one get-session call for 16 requests");

    // Later requests are served from the cache; another cookie is asked.
    assert_accepted(&with_cookie(&function, &cookie));
    assert_eq!(server.requests(), 1);
    assert_accepted(&with_cookie(&function, &random_cookie()));
    assert_eq!(server.requests(), 2);
}

fn get_session_reply(delay: Duration) -> Reply {
    Reply {
        status: 200,
        content_type: Some("application/json".to_owned()),
        cache_control: None,
        date: None,
        body: GET_SESSION_BODY.to_owned(),
        delay,
    }
}

/// A cookie holding a Better Auth session token signed with `secret`.
fn signed_cookie(secret: &str) -> String {
    let value = signed_session_token(secret)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    format!("better-auth.session_token={value}")
}

/// The attack: with `AUTH_SERVER_URL`, forged `token.<sig>` values each made
/// a get-session call. With the auth server's secret configured, forgeries
/// are refused by their signature and the auth server is never asked.
#[test]
fn forged_session_tokens_never_reach_the_auth_server_when_the_secret_is_known() {
    let server = JwksServer::start(get_session_reply(Duration::ZERO));
    let secret = unique_secret("remote-flood");
    let function = start(
        AUTH_SESSION,
        &[
            ("AUTH_SERVER_URL", &base_url(&server)),
            ("BETTER_AUTH_SECRET", &secret),
        ],
    );
    for _ in 0..200 {
        with_cookie(&function, &random_cookie()).assert_problem(401, "cookie_signature_invalid");
    }
    assert_eq!(server.requests(), 0, "no forgery reached the auth server");
    assert_accepted(&with_cookie(&function, &signed_cookie(&secret)));
    assert_eq!(server.requests(), 1);
}

/// Without the secret, a flood of unknown tokens is held to a bounded number
/// of concurrent get-session calls per process (the rest queue for a slot),
/// and a user already cached keeps being served at once meanwhile.
#[test]
fn a_flood_of_unknown_tokens_is_bounded_and_cached_users_are_still_served() {
    let server = JwksServer::start(get_session_reply(Duration::ZERO));
    let function = start(
        AUTH_SESSION,
        &[
            ("AUTH_SERVER_URL", &base_url(&server)),
            ("AUTH_SERVER_TIMEOUT_SECS", "5"),
        ],
    );
    let known = random_cookie();
    assert_accepted(&with_cookie(&function, &known));
    assert_eq!(server.requests(), 1);

    // Now the auth server is slow, and knows none of the flood's tokens.
    server.set(Reply {
        body: "null".to_owned(),
        ..get_session_reply(Duration::from_millis(500))
    });
    let addr = function.addr();
    let flood = 48;
    let barrier = Arc::new(Barrier::new(flood));
    let workers: Vec<_> = (0..flood)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                get(addr, SESSION, &[("cookie", &random_cookie())])
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert_accepted(&with_cookie(&function, &known));
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(400),
        "the cached user waited {waited:?}"
    );
    for worker in workers {
        worker
            .join()
            .unwrap()
            .assert_problem(401, "session_not_found");
    }
    assert_eq!(
        server.requests(),
        1 + flood,
        "each unknown token asked once"
    );
    assert_eq!(
        server.most_concurrent(),
        16,
        "at most 16 get-session calls at once per process"
    );
}
