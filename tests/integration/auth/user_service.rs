//! The principal enriched with the user's profile from a user service
//! (`USER_SERVICE_URL`), played by a loopback server that counts what it is
//! asked: fetched once and cached, stored in `gatehouse_users`, and served
//! from the cache or the table while the service fails, so its outage only
//! refuses users it never saw.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::support::db::TestDb;
use crate::support::function::{VercelFunction, block_on};
use crate::support::mint::{jose, secret_spec};

/// The longest the fake service runs, whatever the test does.
const SERVICE_LIFETIME: Duration = Duration::from_secs(60);

/// One request the user service received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
}

struct State {
    profiles: HashMap<String, Value>,
    /// Answer every request with 503.
    failing: AtomicBool,
    seen: Mutex<Vec<Seen>>,
}

/// A user service on a loopback socket: `GET /users/<id>` answers the
/// profile of a known id and 404 otherwise; [`UserService::fail`] switches
/// it to 503, and [`UserService::stop`] (or drop) closes it, so connections
/// are refused. Every response closes its connection.
struct UserService {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UserService {
    fn start(profiles: HashMap<String, Value>) -> UserService {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the user service");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the user service's address");
        let state = Arc::new(State {
            profiles,
            failing: AtomicBool::new(false),
            seen: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (serving, stopping) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + SERVICE_LIFETIME;
            while !stopping.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let state = serving.clone();
                        std::thread::spawn(move || answer(stream, &state));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        UserService {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `USER_SERVICE_URL` for this service.
    fn url(&self) -> String {
        format!("http://{}/users/{{id}}", self.addr)
    }

    fn fail(&self) {
        self.state.failing.store(true, Ordering::SeqCst);
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    fn requests(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }
}

impl Drop for UserService {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads one request head and answers it.
fn answer(mut stream: TcpStream, state: &State) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or_default()
        .to_owned();
    let authorization = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.trim().to_owned());
    state.seen.lock().unwrap().push(Seen {
        path: path.clone(),
        authorization,
    });
    let profile = path
        .strip_prefix("/users/")
        .and_then(|id| state.profiles.get(id));
    let (status, body) = if state.failing.load(Ordering::SeqCst) {
        ("503 Service Unavailable", json!({ "error": "maintenance" }))
    } else if let Some(profile) = profile {
        ("200 OK", profile.clone())
    } else {
        ("404 Not Found", json!({ "error": "no such user" }))
    };
    let body = body.to_string();
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

fn profile(id: &str, name: &str) -> Value {
    json!({ "id": id, "name": name, "plan": "team", "org": { "id": "org_7", "role": "admin" } })
}

/// The principal's `profile`, asserting its shape and `source`.
#[track_caller]
fn profile_of(principal: &Value, source: &str) -> Value {
    let profile = &principal["profile"];
    assert_eq!(profile["source"], source, "{principal}");
    let fetched_at = profile["fetched_at"].as_i64().unwrap_or_default();
    assert!(
        fetched_at > now() - 60 && fetched_at <= now(),
        "fetched_at {fetched_at}: {principal}"
    );
    profile.clone()
}

#[test]
fn profiles_are_fetched_once_stored_and_served_while_the_user_service_is_down() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let alice = profile("alice", "Alice Liddell");
    let mut service = UserService::start(HashMap::from([
        ("alice".to_owned(), alice.clone()),
        ("carol".to_owned(), profile("carol", "Carol Shaw")),
        ("dave".to_owned(), profile("dave", "Dave Cutler")),
    ]));
    let secret = unique_secret("profiles");
    let api_key = unique_secret("usk");
    let url = service.url();
    let env = [
        ("JWT_SECRET", secret.as_str()),
        ("DATABASE_URL", db.url.as_str()),
        ("USER_SERVICE_URL", url.as_str()),
        ("USER_SERVICE_API_KEY", api_key.as_str()),
    ];
    let mut function = start(AUTH_SESSION, &env);
    // The same, with every profile asked for again (a stale copy remains).
    let mut eager_env = env.to_vec();
    eager_env.push(("USER_SERVICE_CACHE_TTL_SECS", "0"));
    let eager = start(AUTH_SESSION, &eager_env);

    let subjects = ["alice", "mallory", "dave", "carol"];
    let tokens: Vec<String> = jose(
        &subjects
            .iter()
            .map(|sub| {
                let claims = json!({ "sub": sub, "iat": now() - 5, "exp": now() + 600 });
                secret_spec("HS256", &secret, &claims)
            })
            .collect::<Vec<_>>(),
    );
    let token: HashMap<&str, &str> = subjects
        .iter()
        .copied()
        .zip(tokens.iter().map(String::as_str))
        .collect();

    // Fetched with the API key, then served from the process cache.
    let principal = assert_accepted(&session_with(&function, token["alice"]));
    assert_eq!(principal["subject"], "alice");
    assert_eq!(principal["method"], "jwt_shared_secret", "{principal}");
    let fetched = profile_of(&principal, "user_service");
    assert_eq!(fetched["data"], alice);
    let seen = service.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/users/alice");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {api_key}").as_str())
    );
    let principal = assert_accepted(&session_with(&function, token["alice"]));
    let cached = profile_of(&principal, "cache");
    assert_eq!(cached["data"], alice);
    assert_eq!(cached["fetched_at"], fetched["fetched_at"]);
    assert_eq!(
        service.requests(),
        1,
        "the second request is served from cache"
    );

    // A user the service does not know: 401, the credential was fine but
    // names nobody.
    let response = session_with(&function, token["mallory"]);
    assert_refused(
        &response,
        "user_not_found",
        &["no user with id mallory"],
        &["sign in again"],
    );
    wait_logged(&mut function, &response);
    assert_eq!(service.requests(), 2);

    let principal = assert_accepted(&session_with(&eager, token["alice"]));
    profile_of(&principal, "user_service");
    assert_eq!(service.requests(), 3);

    // The service fails: a cached profile still serves, fresh or stale.
    service.fail();
    let principal = assert_accepted(&session_with(&function, token["alice"]));
    assert_eq!(profile_of(&principal, "cache")["data"], alice);
    assert_eq!(service.requests(), 3);
    let principal = assert_accepted(&session_with(&eager, token["alice"]));
    assert_eq!(profile_of(&principal, "stale_cache")["data"], alice);
    assert_eq!(service.requests(), 4);
    // A user never seen has no profile to fall back on: 503, not 401.
    let response = session_with(&function, token["dave"]);
    assert_refused(
        &response,
        "user_service_unavailable",
        &["none is cached", "answered 503"],
        &["USER_SERVICE_URL"],
    );
    assert_eq!(service.requests(), 5);

    // The service is down and a new process has no cache: the profile
    // stored in gatehouse_users serves.
    service.stop();
    let restarted = start(AUTH_SESSION, &env);
    let principal = assert_accepted(&session_with(&restarted, token["alice"]));
    let stored = profile_of(&principal, "database");
    assert_eq!(stored["data"], alice);
    assert!(stored["fetched_at"].as_i64() >= fetched["fetched_at"].as_i64());
    let response = session_with(&restarted, token["carol"]);
    assert_refused(
        &response,
        "user_service_unavailable",
        &["connection refused"],
        &[],
    );
    assert_eq!(service.requests(), 5);

    let output = [&function, &eager, &restarted]
        .iter()
        .map(|function: &&VercelFunction| function.process.all_output())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!output.contains(&api_key), "the API key reached the log");
    for token in &tokens {
        assert!(!output.contains(token.as_str()), "a token reached the log");
    }
}
