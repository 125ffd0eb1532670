//! Each process's copy of the revocation state (`auth/revocation_mirror.rs`)
//! through the real binaries on one Postgres: a revocation through one
//! instance is refused by another within `REVOCATION_SYNC_MS` (measured and
//! printed) and by the revoking one at once; a database outage is served
//! from the last state for at most `REVOCATION_MAX_STALENESS_SECS`, then
//! refused with a 503 (never a 401), and each change is logged once.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::sessions::{AUTH_REVOKE, revoke};
use super::*;
use crate::support::db::TestDb;
use crate::support::function::{VercelFunction, block_on};
use crate::support::http_client::Response;
use crate::support::mint::{jose_one, secret_spec};
use crate::support::tcp_proxy::Proxy;
use crate::tasks_reliability::{proxy_runtime, server_addr, through_port};

const SYNC_MS: u64 = 200;
/// What a check may take past the bound: the read itself and the loopback
/// requests that observe it, on a shared 2-core machine.
const MARGIN_MS: u64 = 150;

fn token(secret: &str, sub: &str, jti: &str) -> String {
    jose_one(secret_spec(
        "HS256",
        secret,
        &json!({ "sub": sub, "jti": jti, "iat": now() - 5, "exp": now() + 600 }),
    ))
}

fn auth(token: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", bearer(token))]
}

/// Asks `function` about `token` until it is refused, for at most `limit`;
/// the refusal and how long it took from `since`.
#[track_caller]
fn until_refused(
    function: &VercelFunction,
    token: &str,
    since: Instant,
    limit: Duration,
) -> (Response, Duration) {
    loop {
        let response = session_with(function, token);
        if response.status != 200 {
            return (response, since.elapsed());
        }
        assert!(
            since.elapsed() < limit,
            "still accepted {:?} after the revocation",
            since.elapsed()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The `revocation_mirror` transitions logged so far, in order.
fn transitions(function: &VercelFunction) -> Vec<String> {
    crate::support::function::json_logs(function)
        .into_iter()
        .filter(|event| event["event"] == "revocation_mirror")
        .map(|event| event["state"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_revocation_through_another_instance_is_refused_within_revocation_sync_ms() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = unique_secret("mirror");
    let sync = SYNC_MS.to_string();
    let checker_env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", secret.as_str()),
        ("REVOCATION_SYNC_MS", sync.as_str()),
    ];
    // The revoking instance reads again only once a minute: what it refuses
    // at once, it knows from its own write.
    let revoker_env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", secret.as_str()),
        ("REVOCATION_SYNC_MS", "60000"),
    ];
    let revoker = start(AUTH_REVOKE, &revoker_env);
    let checker = start(AUTH_SESSION, &checker_env);
    let second_checker = start(AUTH_SESSION, &checker_env);

    let mut delays = Vec::new();
    for round in 0..5 {
        let revoked = token(&secret, "alice", &format!("mirror-{round}"));
        let bystander = token(&secret, "bob", &format!("bystander-{round}"));
        for function in [&checker, &second_checker] {
            assert_accepted(&session_with(function, &revoked));
        }
        // Let the copies age to anywhere in their interval.
        std::thread::sleep(Duration::from_millis(37 * round));

        let response = revoke(&revoker, &auth(&revoked), &json!({}));
        assert_eq!(response.status, 200, "{response}");
        let since = Instant::now();
        // At once on the instance that revoked, whose copy is not due.
        let again = revoke(&revoker, &auth(&revoked), &json!({}));
        assert_refused(&again, "token_revoked", &["revoked at"], &[]);

        let limit = Duration::from_millis(SYNC_MS + MARGIN_MS);
        for function in [&checker, &second_checker] {
            let (refused, delay) = until_refused(function, &revoked, since, Duration::from_secs(5));
            assert_refused(
                &refused,
                "token_revoked",
                &["revoked at"],
                &["sign in again"],
            );
            delays.push(delay);
            assert!(
                delay <= limit,
                "refused {delay:?} after the revocation, past REVOCATION_SYNC_MS ({SYNC_MS} ms) + {MARGIN_MS} ms"
            );
        }
        assert_accepted(&session_with(&checker, &bystander));
    }

    // Sign-out everywhere, the same way.
    let later = token(&secret, "carol", "carol-1");
    let other = token(&secret, "carol", "carol-2");
    assert_accepted(&session_with(&checker, &other));
    let response = revoke(&revoker, &auth(&later), &json!({ "all": true }));
    assert_eq!(response.status, 200, "{response}");
    let since = Instant::now();
    let again = revoke(&revoker, &auth(&other), &json!({}));
    assert_refused(&again, "token_revoked", &["sign-out everywhere"], &[]);
    let (refused, delay) = until_refused(&checker, &other, since, Duration::from_secs(5));
    assert_refused(&refused, "token_revoked", &["sign-out everywhere"], &[]);
    delays.push(delay);
    assert!(
        delay <= Duration::from_millis(SYNC_MS + MARGIN_MS),
        "{delay:?}"
    );

    let max = delays.iter().max().unwrap();
    let mean = delays.iter().sum::<Duration>() / delays.len() as u32;
    println!(
        "revocation through another instance refused after: max {:.1} ms, mean {:.1} ms over {} checks (REVOCATION_SYNC_MS={SYNC_MS})",
        max.as_secs_f64() * 1000.0,
        mean.as_secs_f64() * 1000.0,
        delays.len()
    );

    // The checkers read by change: one cold read each, then at most one read
    // per interval, however many requests they served.
    for function in [&checker, &second_checker] {
        assert_eq!(
            transitions(function),
            ["loaded"],
            "{}",
            function.process.stderr()
        );
    }
}

#[test]
fn an_outage_is_served_from_the_last_state_then_refused_with_a_503_then_recovers() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let runtime = proxy_runtime();
    let proxy: Proxy = runtime.block_on(Proxy::start(server_addr(&db.url)));
    let through_proxy = through_port(&db.url, proxy.port);
    let secret = unique_secret("outage");
    let staleness_secs = 2.0;
    let staleness = staleness_secs.to_string();
    let checker = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", through_proxy.as_str()),
            ("JWT_SECRET", secret.as_str()),
            ("REVOCATION_SYNC_MS", "100"),
            ("REVOCATION_MAX_STALENESS_SECS", staleness.as_str()),
            ("DATABASE_CONNECT_TIMEOUT_SECS", "1"),
        ],
    );
    let revoker = start(
        AUTH_REVOKE,
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_SECRET", secret.as_str()),
        ],
    );
    let revoked = token(&secret, "dana", "outage-revoked");
    let fine = token(&secret, "erin", "outage-fine");
    assert_accepted(&session_with(&checker, &revoked));
    assert_eq!(revoke(&revoker, &auth(&revoked), &json!({})).status, 200);
    let (refused, _) = until_refused(&checker, &revoked, Instant::now(), Duration::from_secs(5));
    assert_refused(&refused, "token_revoked", &[], &[]);

    // Down. Within the staleness bound the last state is applied: the
    // revocation known is enforced, the others accepted.
    proxy.set_down(true);
    let down_at = Instant::now();
    let mut served = 0;
    while down_at.elapsed() < Duration::from_secs_f64(staleness_secs * 0.6) {
        assert_refused(&session_with(&checker, &revoked), "token_revoked", &[], &[]);
        assert_accepted(&session_with(&checker, &fine));
        served += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(served > 3, "{served}");

    // Past it: a 503 with its reason for every credential that needs the
    // check, the revoked one included (never a 401, never an accept).
    std::thread::sleep(
        Duration::from_secs_f64(staleness_secs + 0.2).saturating_sub(down_at.elapsed()),
    );
    for token in [&fine, &revoked] {
        assert_refused(
            &session_with(&checker, token),
            "revocation_unavailable",
            &["revocation state", "REVOCATION_MAX_STALENESS_SECS"],
            &["retry"],
        );
    }

    // Up again: current at the next read.
    proxy.set_down(false);
    let up_at = Instant::now();
    loop {
        let response = session_with(&checker, &fine);
        if response.status == 200 {
            break;
        }
        assert!(
            up_at.elapsed() < Duration::from_secs(5),
            "not recovered: {response}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_refused(&session_with(&checker, &revoked), "token_revoked", &[], &[]);

    // Each change logged once, structured, without a token or the URL's
    // credentials.
    let states = transitions(&checker);
    assert_eq!(
        states,
        ["loaded", "stale", "unavailable", "recovered"],
        "{}",
        checker.process.stderr()
    );
    let events: Vec<Value> = crate::support::function::json_logs(&checker)
        .into_iter()
        .filter(|event| event["event"] == "revocation_mirror")
        .collect();
    assert_eq!(events[1]["level"], "WARN", "{}", events[1]);
    assert_eq!(events[2]["level"], "ERROR", "{}", events[2]);
    assert_eq!(events[3]["was"], "unavailable", "{}", events[3]);
    assert!(
        events[1]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{}",
        events[1]
    );
    let output = checker.process.all_output();
    for token in [&revoked, &fine] {
        assert!(!output.contains(token.as_str()), "a token reached the log");
    }
    drop(proxy);
}

/// The transitions logged within `limit`, polled without sending a request.
fn transitions_within(function: &VercelFunction, limit: Duration) -> Vec<String> {
    let since = Instant::now();
    loop {
        let states = transitions(function);
        if !states.is_empty() || since.elapsed() >= limit {
            return states;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_cold_start_reads_the_revocation_state_before_the_first_request() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = unique_secret("prepare");
    let function = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_SECRET", secret.as_str()),
            ("REVOCATION_SYNC_MS", "60000"),
        ],
    );
    // No request yet: the read was started by the cold start itself.
    assert_eq!(
        transitions_within(&function, Duration::from_secs(5)),
        ["loaded"],
        "{}",
        function.process.stderr()
    );
    let fine = token(&secret, "fay", "prepare-fine");
    assert_accepted(&session_with(&function, &fine));
    assert_eq!(transitions(&function), ["loaded"]);
}

#[test]
fn a_cold_start_with_the_database_down_leaves_the_first_request_to_try_and_say_why() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let runtime = proxy_runtime();
    let proxy: Proxy = runtime.block_on(Proxy::start(server_addr(&db.url)));
    proxy.set_down(true);
    let through_proxy = through_port(&db.url, proxy.port);
    let secret = unique_secret("prepare-down");
    let function = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", through_proxy.as_str()),
            ("JWT_SECRET", secret.as_str()),
            ("REVOCATION_SYNC_MS", "60000"),
            ("DATABASE_CONNECT_TIMEOUT_SECS", "1"),
        ],
    );
    // The cold-start read fails without a word and without holding back
    // the next attempt (a minute away, were it counted).
    assert!(
        transitions_within(&function, Duration::from_millis(1500)).is_empty(),
        "{}",
        function.process.stderr()
    );
    let fine = token(&secret, "gil", "prepare-down-fine");
    let body = assert_refused(
        &session_with(&function, &fine),
        "revocation_unavailable",
        &["revocation state", "could not be read"],
        &["retry"],
    );
    // The request's own attempt: its cause, not "never read".
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(!detail.contains("has not been read"), "{detail}");
    assert_eq!(transitions(&function), ["unavailable"]);
    drop(proxy);
}

/// While requests keep coming, the state is read in the background before
/// it is due, so no request waits for the read; the bound still holds. Each
/// read is made slow on purpose (300 ms inside the database, through a
/// wrapper of `gatehouse_revocation_changes`): a request that waited for
/// one would take that long.
#[test]
fn with_steady_requests_the_state_is_read_ahead_off_the_request_path() {
    const SYNC: u64 = 2000;
    const READ: u64 = 300;
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    block_on(db.execute(&format!(
        "ALTER FUNCTION gatehouse_revocation_changes(pg_snapshot) RENAME TO gatehouse_revocation_changes_fast;
         CREATE FUNCTION gatehouse_revocation_changes(p_since pg_snapshot)
         RETURNS TABLE (kind text, key text, at float8, expires_at float8, horizon pg_snapshot)
         LANGUAGE plpgsql AS $$
         BEGIN
             PERFORM pg_sleep({READ} / 1000.0);
             RETURN QUERY SELECT * FROM gatehouse_revocation_changes_fast(p_since);
         END $$;"
    )));
    let secret = unique_secret("ahead");
    let sync = SYNC.to_string();
    let function = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_SECRET", secret.as_str()),
            ("REVOCATION_SYNC_MS", sync.as_str()),
        ],
    );
    let steady = token(&secret, "steady", "steady-1");
    // The first request may wait for the cold start's read.
    assert_accepted(&session_with(&function, &steady));

    // Two and a half intervals of requests every 25 ms: two reads at least.
    let (mut slowest, mut answered) = (Duration::ZERO, 0);
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(SYNC * 5 / 2) {
        let sent = Instant::now();
        assert_accepted(&session_with(&function, &steady));
        slowest = slowest.max(sent.elapsed());
        answered += 1;
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        slowest < Duration::from_millis(READ * 2 / 3),
        "a request took {slowest:?} of {answered}: it waited for a read ({READ} ms) that should have run ahead of the bound"
    );

    // The reads did happen: a revocation written straight to the database
    // is refused within the bound, still with no request waiting.
    block_on(db.execute(
        "INSERT INTO gatehouse_revoked_tokens (token_id, subject, expires_at)
         VALUES ('jti:steady-1', 'shared-secret:steady', now() + interval '1 hour')",
    ));
    let since = Instant::now();
    let (refused, delay) = until_refused(&function, &steady, since, Duration::from_secs(10));
    assert_refused(&refused, "token_revoked", &["revoked at"], &[]);
    assert!(
        delay <= Duration::from_millis(SYNC + READ + MARGIN_MS),
        "refused {delay:?} after the revocation, past REVOCATION_SYNC_MS ({SYNC} ms) + the read ({READ} ms) + {MARGIN_MS} ms"
    );
}
