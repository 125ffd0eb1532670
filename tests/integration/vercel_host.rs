//! The function binaries under the Vercel protocol, as `vercel_runtime` 2.x
//! runs them: HTTP/1.1 on `VERCEL_DEV_PORT`, IPC frames on `VERCEL_IPC_PATH`,
//! one warm process serving many (and concurrent) requests.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use gatehouse::config::{Config, Env, Needs};
use gatehouse::db::{Database, migrations};
use serde_json::{Value, json};

use crate::support::db::{TestDb, current_migrations_json, migrations_json};
use crate::support::function::{
    HEALTH, HEALTH_DETAILED, Process, READY_TIMEOUT, VercelFunction, block_on, free_port,
};
use crate::support::http_client::{Connection, Response, get, request};

/// A request as Vercel's proxy sends it, with the internal invocation headers.
fn invocation(invocation_id: &str, request_id: u64) -> Vec<u8> {
    request(
        "GET",
        "/api/health",
        &[
            ("x-vercel-internal-invocation-id", invocation_id),
            ("x-vercel-internal-request-id", &request_id.to_string()),
        ],
    )
}

fn assert_end_frame(function: &mut VercelFunction, invocation_id: &str, request_id: u64) {
    let frame = function.end_frame(invocation_id);
    assert_eq!(
        frame,
        json!({
            "type": "end",
            "payload": {
                "context": { "invocationId": invocation_id, "requestId": request_id },
                "error": null,
            },
        }),
    );
}

fn is_generated_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[test]
fn one_warm_process_serves_many_requests_and_reports_each_end() {
    let mut function = VercelFunction::start(HEALTH, &[]);
    let run = uuid::Uuid::new_v4().simple().to_string();

    // Keep-alive: three requests on one connection.
    let mut connection = Connection::open(function.addr());
    for n in 1..=3u64 {
        let id = format!("inv-{run}-{n}");
        let response = connection.send(&invocation(&id, n));
        response.assert_healthy();
        assert_ne!(response.header("connection"), Some("close"), "{response}");
        assert_end_frame(&mut function, &id, n);
    }
    // Then a new connection per request.
    for n in 4..=6u64 {
        let id = format!("inv-{run}-{n}");
        Connection::open(function.addr())
            .send(&invocation(&id, n))
            .assert_healthy();
        assert_end_frame(&mut function, &id, n);
    }

    // One process served them all: still running, and it never announced a
    // second start.
    function.process.assert_running();
    let leftovers = function.unconsumed_frames();
    assert!(
        leftovers
            .iter()
            .all(|frame| frame["type"] != "server-started"),
        "the process must not restart: {leftovers:?}"
    );
}

#[test]
fn concurrent_requests_all_succeed_on_one_process() {
    let mut function = VercelFunction::start(HEALTH, &[]);
    let addr = function.addr();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let threads: Vec<_> = (1..=16u64)
        .map(|n| {
            let id = format!("inv-{run}-{n}");
            std::thread::spawn(move || Connection::open(addr).send(&invocation(&id, n)))
        })
        .collect();
    let responses: Vec<Response> = threads
        .into_iter()
        .map(|thread| thread.join().expect("request thread"))
        .collect();
    let mut ids: Vec<&str> = Vec::new();
    for response in &responses {
        response.assert_healthy();
        ids.push(response.request_id());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 16, "every request gets its own id");
    for n in 1..=16u64 {
        assert_end_frame(&mut function, &format!("inv-{run}-{n}"), n);
    }
    function.process.assert_running();
}

#[test]
fn x_vercel_id_becomes_the_request_id_only_when_well_formed() {
    let function = VercelFunction::start(HEALTH, &[]);
    let addr = function.addr();
    let vercel_id = "cdg1::iad1::abc12-1700000000000-deadbeef";
    let response = get(addr, "/api/health", &[("x-vercel-id", vercel_id)]);
    response.assert_healthy();
    assert_eq!(response.request_id(), vercel_id);

    let absent_a = get(addr, "/api/health", &[]);
    let absent_b = get(addr, "/api/health", &[]);
    for response in [&absent_a, &absent_b] {
        response.assert_healthy();
        assert!(is_generated_id(response.request_id()), "{response}");
    }
    assert_ne!(absent_a.request_id(), absent_b.request_id());

    let too_long = "a".repeat(200);
    for garbage in ["evil id<script>", "x\"y", too_long.as_str()] {
        let response = get(addr, "/api/health", &[("x-vercel-id", garbage)]);
        response.assert_healthy();
        assert!(
            is_generated_id(response.request_id()),
            "{garbage:?} must be replaced: {response}"
        );
    }
}

#[test]
fn without_ipc_it_announces_its_port_on_stdout() {
    for _attempt in 0..5 {
        let port = free_port().to_string();
        let mut process = Process::spawn(HEALTH, &[], &[("VERCEL_DEV_PORT", &port)]);
        let line = match process.try_wait_stdout_line("Dev server listening", READY_TIMEOUT) {
            Ok(line) => line,
            Err(report) if report.contains("in use") => continue, // lost the port race
            Err(report) => panic!("{report}"),
        };
        assert_eq!(line, format!("Dev server listening: {port}"));
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        get(addr, "/api/health", &[]).assert_healthy();
        return;
    }
    panic!("could not find a free port in 5 attempts");
}

/// Applies the migrations in-process, as `gatehouse migrate` does.
fn migrate(url: &str) -> Vec<migrations::ComponentVersion> {
    block_on(async {
        let config = Config::load(&Env::from_pairs([("DATABASE_URL", url)]), Needs::DATABASE)
            .unwrap_or_else(|errors| panic!("test configuration invalid: {errors}"));
        let db = Database::new(config.database.as_ref().expect("database settings"))
            .unwrap_or_else(|err| panic!("pool: {err}"));
        let report = migrations::apply(&db, &[&gatehouse_app::migrations::APP])
            .await
            .unwrap_or_else(|err| panic!("migrations: {err}"));
        db.close();
        report.versions
    })
}

fn detailed(function: &VercelFunction) -> (Response, Value) {
    let response = get(function.addr(), "/api/health/detailed", &[]);
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{response}"
    );
    let body = response.json();
    assert_eq!(
        body["request_id"].as_str(),
        Some(response.request_id()),
        "{response}"
    );
    (response, body)
}

#[test]
fn detailed_health_reports_an_old_schema_then_healthy_once_migrated() {
    let db = block_on(TestDb::create());
    let function = VercelFunction::start(
        HEALTH_DETAILED,
        &[("DATABASE_URL", &db.url), ("DATABASE_POOL_MAX", "3")],
    );

    let (response, body) = detailed(&function);
    assert_eq!(response.status, 503, "{response}");
    assert_eq!(body["status"], "unhealthy", "{response}");
    assert_eq!(body["failing"], json!(["migrations"]), "{response}");
    assert_eq!(body["reason"], "schema_outdated", "{response}");
    assert_eq!(
        body["checks"]["database"]["migrations"],
        migrations_json([0, 0]),
        "{response}"
    );

    assert!(
        migrate(&db.url).iter().all(|v| v.is_current()),
        "the migrations were applied"
    );

    // The same warm process sees the new schema; no restart needed.
    let (response, body) = detailed(&function);
    assert_eq!(response.status, 200, "{response}");
    assert_eq!(body["status"], "healthy", "{response}");
    assert!(
        body.get("failing").is_none() && body.get("reason").is_none(),
        "{response}"
    );
    assert_eq!(body["environment"], "development", "{response}");
    assert_eq!(
        body["checks"]["configuration"]["status"], "ok",
        "{response}"
    );
    let database = &body["checks"]["database"];
    assert_eq!(database["status"], "up", "{response}");
    assert_eq!(
        database["migrations"],
        current_migrations_json(),
        "{response}"
    );
    let pool = &database["pool"];
    assert_eq!(pool["max"], 3, "{response}");
    let size = pool["size"].as_u64().expect("pool.size");
    assert!((1..=3).contains(&size), "{response}");
    assert_eq!(
        pool["in_use"], 0,
        "connections go back to the pool: {response}"
    );
    assert_eq!(pool["idle"], size, "{response}");
    assert!(database["latency_ms"].as_f64().is_some(), "{response}");
}

/// Asserts a `database_unavailable` health report that names no secret.
fn assert_database_down(function: &VercelFunction, password: &str, bound: Duration) {
    let started = Instant::now();
    let (response, body) = detailed(function);
    let elapsed = started.elapsed();
    assert!(
        elapsed < bound,
        "answered after {elapsed:?}, past the connect timeout bound {bound:?}: {response}"
    );
    assert_eq!(response.status, 503, "{response}");
    assert_eq!(body["reason"], "database_unavailable", "{response}");
    assert_eq!(body["failing"], json!(["database"]), "{response}");
    assert_eq!(body["checks"]["database"]["status"], "down", "{response}");
    assert!(
        !response.text().contains(password),
        "password leaked: {response}"
    );
    assert!(
        !response.text().contains("postgres://"),
        "URL leaked: {response}"
    );
}

#[test]
fn detailed_health_gives_up_on_a_silent_database_within_the_connect_timeout() {
    // Accepts connections (the kernel completes the handshake) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let url = format!(
        "postgres://gatehouse:{password}@127.0.0.1:{}/app",
        silent.local_addr().unwrap().port()
    );
    let function = VercelFunction::start(
        HEALTH_DETAILED,
        &[
            ("DATABASE_URL", &url),
            ("DATABASE_CONNECT_TIMEOUT_SECS", "1"),
        ],
    );
    // Twice: a timed-out attempt must not leave the pool stuck.
    assert_database_down(&function, &password, Duration::from_secs(4));
    assert_database_down(&function, &password, Duration::from_secs(4));
    assert!(
        !function.process.all_output().contains(&password),
        "password leaked into the logs:\n{}",
        function.process.report()
    );
    drop(silent);
}

#[test]
fn detailed_health_answers_503_when_the_database_refuses_connections() {
    let closed_port = free_port();
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let url = format!("postgres://gatehouse:{password}@127.0.0.1:{closed_port}/app");
    let function = VercelFunction::start(HEALTH_DETAILED, &[("DATABASE_URL", &url)]);
    assert_database_down(&function, &password, Duration::from_secs(4));
    assert!(
        !function.process.all_output().contains(&password),
        "password leaked into the logs:\n{}",
        function.process.report()
    );
}
