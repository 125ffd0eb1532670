//! Every database path through a transaction-mode pooler, the way
//! serverless deployments reach Postgres (Neon's `-pooler` hosts,
//! Supabase's Supavisor on port 6543, PgBouncer): a real PgBouncer with ONE
//! server connection (`support/pgbouncer.rs`), which every client
//! connection of every function shares by turns. Migrations, the tasks API,
//! API keys, exchanged sessions, revocation and its per-process mirror, and
//! Better Auth's session lookup all run through it with concurrent
//! requests; at the end the server connection holds no prepared statement
//! (a named one would outlive its transaction and collide with another
//! client's), and PgBouncer logged no server-side error.

use std::thread;

use serde_json::json;

use crate::auth::better_auth::{BetterAuth, sign_up_and_in};
use crate::auth::sessions::{AUTH_REVOKE, revoke};
use crate::auth::{
    AUTH_SESSION, SESSION, assert_accepted, assert_refused, bearer, now, session_with, start,
    unique_secret,
};
use crate::support::db::TestDb;
use crate::support::function::{VercelFunction, block_on, run_cli};
use crate::support::http_client::{get, send};
use crate::support::mint::{jose_one, secret_spec};
use crate::support::pgbouncer::PgBouncer;
use crate::tasks::{TASK, TASKS, TasksApi};

const HEALTH_DETAILED: &str = env!("CARGO_BIN_EXE_health-detailed");
const AUTH_EXCHANGE: &str = env!("CARGO_BIN_EXE_auth-exchange");
const SYNC_MS: &str = "100";

/// What must hold after any run through the pooler: the functions' own
/// connections went through it (at least `clients` of them logged in), and
/// they left nothing behind.
#[track_caller]
fn assert_pooler_clean(bouncer: &PgBouncer, database: &str, clients: usize) {
    assert_eq!(
        block_on(bouncer.prepared_statements(database)),
        0,
        "a named prepared statement outlived its transaction on the pooled server connection"
    );
    let log = bouncer.log();
    let logins = log
        .matches(&format!("login attempt: db={database} "))
        .count();
    assert!(
        logins >= clients,
        "only {logins} client connections to {database} went through PgBouncer, expected at least {clients}:\n{log}"
    );
    for line in log.lines() {
        assert!(
            !line.contains("ERROR") && !line.contains("server conn crashed"),
            "PgBouncer logged a failure: {line}\n{log}"
        );
    }
}

/// `gatehouse <args>` with only `DATABASE_URL`; panics unless it succeeds.
#[track_caller]
fn cli(args: &[&str], database_url: &str) -> String {
    let output = run_cli(args, &[("DATABASE_URL", database_url)], "");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "gatehouse {args:?} through the pooler failed\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn migrations_tasks_api_keys_sessions_and_revocation_work_through_a_transaction_pooler() {
    let db = block_on(TestDb::create());
    let bouncer = PgBouncer::start();
    let url = bouncer.url(&db.name);

    // Migrations, twice (the second finds nothing to do), through the pooler.
    cli(&["migrate"], &url);
    cli(&["migrate"], &url);
    let health = start(HEALTH_DETAILED, &[("DATABASE_URL", url.as_str())]);
    let response = get(health.addr(), "/api/health/detailed", &[]);
    assert_eq!(response.status, 200, "{response}");

    // The tasks API, four users writing at once.
    let secret = unique_secret("pooler");
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET", secret.as_str()),
        ("REVOCATION_SYNC_MS", SYNC_MS),
    ];
    let api = TasksApi {
        collection: start(TASKS, &env),
        item: start(TASK, &env),
        db,
        secret: secret.clone(),
    };
    let users = ["ada", "grace", "linus", "barbara"];
    let tokens = api.tokens(&users);
    // Threads take the address: a function's handle stays on this one.
    let collection = api.collection.addr();
    thread::scope(|scope| {
        for token in &tokens {
            scope.spawn(move || {
                for n in 0..5 {
                    let created = send(
                        collection,
                        "POST",
                        "/api/tasks",
                        &[
                            ("authorization", &bearer(token)),
                            ("content-type", "application/json"),
                        ],
                        &json!({ "title": format!("task {n}") }).to_string(),
                    );
                    assert_eq!(created.status, 201, "{created}");
                }
            });
        }
    });
    for token in &tokens {
        let listed = api.call("GET", "/api/tasks", token, &[], None);
        assert_eq!(listed.status, 200, "{listed}");
        assert_eq!(listed.json()["items"].as_array().map(Vec::len), Some(5));
    }
    let task = api.create(&tokens[0], "to update");
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    let read = api.call("GET", &path, &tokens[0], &[], None);
    assert_eq!(read.status, 200, "{read}");
    let etag = read.header("etag").unwrap().to_owned();
    let updated = api.call(
        "PATCH",
        &path,
        &tokens[0],
        &[("if-match", etag.as_str())],
        Some(&json!({ "done": true })),
    );
    assert_eq!(updated.status, 200, "{updated}");
    let deleted = api.call("DELETE", &path, &tokens[0], &[], None);
    assert_eq!(deleted.status, 204, "{deleted}");
    // An idempotent retry gets the first answer, not a second task.
    let retry = |key: &str| {
        send(
            api.collection.addr(),
            "POST",
            "/api/tasks",
            &[
                ("authorization", &bearer(&tokens[1])),
                ("content-type", "application/json"),
                ("idempotency-key", key),
            ],
            &json!({ "title": "once" }).to_string(),
        )
    };
    let first = retry("pooled-1");
    assert_eq!(first.status, 201, "{first}");
    assert_eq!(retry("pooled-1").json()["id"], first.json()["id"]);

    // An API key made by the CLI through the pooler.
    let key = cli(
        &[
            "api-keys",
            "create",
            "--name",
            "pooled",
            "--scope",
            "tasks:read",
        ],
        &url,
    );
    let key = key.trim_end();
    let by_key = api.call("GET", "/api/tasks", key, &[], None);
    assert_eq!(by_key.status, 200, "{by_key}");

    // An exchanged session, read by another process.
    let exchanger = start(AUTH_EXCHANGE, &env);
    let exchanged = send(
        exchanger.addr(),
        "POST",
        "/api/auth/exchange",
        &[("authorization", &bearer(&tokens[2]))],
        "",
    );
    assert_eq!(exchanged.status, 201, "{exchanged}");
    let session_token = exchanged.json()["token"].as_str().unwrap().to_owned();
    let checker = start(AUTH_SESSION, &env);
    assert_accepted(&session_with(&checker, &session_token));

    // Revocation: one token through one process, refused by another within
    // REVOCATION_SYNC_MS (its mirror reads changes through the pooler).
    let revoker = start(AUTH_REVOKE, &env);
    let doomed = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "jti": "pooled", "iat": now() - 5, "exp": now() + 600 }),
    ));
    assert_accepted(&session_with(&checker, &doomed));
    let response = revoke(&revoker, &[("authorization", bearer(&doomed))], &json!({}));
    assert_eq!(response.status, 200, "{response}");
    wait_until_refused(&checker, &doomed);
    // And every token of a subject.
    let response = revoke(
        &revoker,
        &[("authorization", bearer(&tokens[3]))],
        &json!({ "all": true }),
    );
    assert_eq!(response.status, 200, "{response}");
    wait_until_refused(&checker, &tokens[3]);

    // Concurrent reads from every function at once still answer.
    let readers = [
        (api.collection.addr(), "/api/tasks"),
        (checker.addr(), SESSION),
        (health.addr(), "/api/health/detailed"),
    ];
    thread::scope(|scope| {
        for (addr, path) in readers {
            let token = &tokens[0];
            scope.spawn(move || {
                for _ in 0..20 {
                    let response = get(addr, path, &[("authorization", &bearer(token))]);
                    assert_eq!(response.status, 200, "{path}: {response}");
                }
            });
        }
    });

    assert_pooler_clean(&bouncer, &api.db.name, 8);
}

/// Polls `checker` until it refuses `token` as revoked, for at most a
/// generous multiple of REVOCATION_SYNC_MS (the bound itself is measured
/// in auth/revocation_mirror.rs, without a pooler).
#[track_caller]
fn wait_until_refused(checker: &VercelFunction, token: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let response = session_with(checker, token);
        if response.status != 200 {
            assert_refused(&response, "token_revoked", &[], &[]);
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still accepted 5 s after the revocation, through the pooler"
        );
        thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn better_auth_sessions_are_looked_up_through_a_transaction_pooler() {
    let server = BetterAuth::start();
    block_on(server.db.migrate());
    let bouncer = PgBouncer::start();
    let url = bouncer.url(&server.db.name);
    let users: Vec<_> = ["ada@example.com", "grace@example.com"]
        .iter()
        .map(|email| sign_up_and_in(&server, email))
        .collect();
    let function = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", url.as_str()),
            ("BETTER_AUTH_SECRET", server.secret.as_str()),
            ("REVOCATION_SYNC_MS", SYNC_MS),
        ],
    );
    // Cookies and bearer tokens of both users, at once: every request is
    // one call of gatehouse_better_auth_session on the shared connection.
    let addr = function.addr();
    thread::scope(|scope| {
        for user in &users {
            scope.spawn(move || {
                for _ in 0..15 {
                    let by_cookie = get(addr, SESSION, &[("cookie", &user.cookie)]);
                    assert_eq!(
                        assert_accepted(&by_cookie)["subject"],
                        user.user_id.as_str()
                    );
                    let by_bearer = get(
                        addr,
                        SESSION,
                        &[("authorization", &bearer(&user.session_token))],
                    );
                    assert_eq!(
                        assert_accepted(&by_bearer)["subject"],
                        user.user_id.as_str()
                    );
                }
            });
        }
    });
    // Signed out in Better Auth (its session row gone): refused at once.
    block_on(server.db.execute(&format!(
        r#"DELETE FROM "session" WHERE "userId" = '{}'"#,
        users[0].user_id
    )));
    let response = get(function.addr(), SESSION, &[("cookie", &users[0].cookie)]);
    assert_eq!(response.status, 401, "{response}");
    assert_accepted(&get(
        function.addr(),
        SESSION,
        &[("cookie", &users[1].cookie)],
    ));

    assert_pooler_clean(&bouncer, &server.db.name, 1);
}

/// The probe of `assert_pooler_clean` can fail: a client that prepares a
/// named statement, as tokio-postgres' `prepare` does, leaves it on the one
/// server connection, and the probe, another client, sees it there.
#[test]
fn a_named_prepared_statement_is_seen_on_the_pooled_connection() {
    let db = block_on(TestDb::create());
    let bouncer = PgBouncer::start();
    let url = bouncer.url(&db.name);
    block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|err| panic!("connect through PgBouncer: {err}\n{}", bouncer.log()));
        tokio::spawn(connection);
        let statement = client.prepare("SELECT 1").await.expect("prepare");
        assert_eq!(bouncer.prepared_statements(&db.name).await, 1);
        drop(statement);
    });
}
