//! The `gatehouse` CLI: `gatehouse dev` serves every route from one process
//! after applying the migrations; `gatehouse migrate` is idempotent.

use std::time::Duration;

use crate::support::db::TestDb;
use crate::support::function::{Process, READY_TIMEOUT, block_on, gatehouse_cli, start_dev};
use crate::support::http_client::get;

fn cli() -> String {
    gatehouse_cli().to_string_lossy().into_owned()
}

#[test]
fn dev_server_migrates_at_start_and_serves_every_route() {
    let db = block_on(TestDb::create());
    // The dev server loads every route's needs: the database, and a way to
    // verify tokens (a shared secret is the smallest).
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let (mut dev, addr) = start_dev(&[("DATABASE_URL", &db.url), ("JWT_SECRET", &secret)]);
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");

    get(addr, "/api/health", &[]).assert_healthy();

    let response = get(addr, "/api/health/detailed", &[]);
    assert_eq!(response.status, 200, "migrations run at start: {response}");
    let body = response.json();
    assert_eq!(
        body["checks"]["database"]["migrations"],
        crate::support::db::current_migrations_json(),
        "{response}"
    );
    assert_eq!(body["request_id"].as_str(), Some(response.request_id()));

    for path in ["/api/nope", "/api/health/detailed/extra", "/"] {
        let response = get(addr, path, &[]);
        let problem = response.assert_problem(404, "route_not_found");
        assert_eq!(
            problem["detail"],
            format!("no function serves {path}"),
            "{response}"
        );
        // Logged under the id the response names.
        let logged = format!("request_id={}", response.request_id());
        let line = dev.wait_stderr_line(&logged, READY_TIMEOUT);
        assert!(line.contains("route_not_found"), "{line}");
    }

    // Every route of the table is served, by its own handler: never
    // `route_not_found`, never a 5xx (no credentials: a refusal at most).
    for route in gatehouse_app::routes::ROUTES {
        let path = route
            .pattern
            .replace("[id]", "0190a5b2-7c3e-7d4f-8a9b-0c1d2e3f4a5b");
        let method = route.methods[0].as_str();
        let response = crate::support::http_client::send(addr, method, &path, &[], "");
        let refused_as_unknown = response.header("content-type")
            == Some("application/problem+json")
            && response.json()["reason"] == "route_not_found";
        assert!(
            response.status < 500 && !refused_as_unknown,
            "{method} {path} is not served: {response}"
        );
    }

    // Every route is listed at start.
    let stdout = dev.stdout();
    for route in gatehouse_app::routes::ROUTES {
        assert!(
            stdout.contains(&format!("http://{addr}{}\n", route.pattern)),
            "{} is not listed:\n{stdout}",
            route.pattern
        );
    }
    dev.assert_running();
    assert!(!dev.stderr().contains("panicked"), "{}", dev.report());
}

#[test]
fn migrate_applies_once_then_reports_up_to_date() {
    let db = block_on(TestDb::create());
    let run = || {
        let mut migrate = Process::spawn(&cli(), &["migrate"], &[("DATABASE_URL", &db.url)]);
        let status = migrate.wait_exit(Duration::from_secs(30));
        assert!(
            status.success(),
            "gatehouse migrate failed: {status}\n{}",
            migrate.report()
        );
        migrate.stdout()
    };
    // A fresh database takes the runtime's history without the upgrade-only
    // steps (3 and 4), then the app's.
    let first = run();
    assert_eq!(
        first.lines().next().unwrap_or_default(),
        "gatehouse: applied migration(s) gatehouse 1, gatehouse 2, gatehouse 5, gatehouse 6, gatehouse 7, app 1; database is at gatehouse 7, app 1"
    );
    // Nothing was stored before namespaces: nothing to say about them.
    assert!(
        !first.contains("stored identities now carry their issuer"),
        "{first}"
    );
    assert_eq!(
        run().trim(),
        "gatehouse: database is up to date (gatehouse 7, app 1)"
    );

    let ledger: Vec<(String, i32)> = block_on(async {
        let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(connection);
        client
            .query(
                "SELECT component, version FROM gatehouse_schema_migrations ORDER BY applied_at, component DESC, version",
                &[],
            )
            .await
            .expect("the ledger exists")
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    });
    let expected: Vec<(String, i32)> = [
        ("gatehouse", 1),
        ("gatehouse", 2),
        ("gatehouse", 5),
        ("gatehouse", 6),
        ("gatehouse", 7),
        ("app", 1),
    ]
    .into_iter()
    .map(|(component, version)| (component.to_owned(), version))
    .collect();
    assert_eq!(ledger, expected);
}

#[test]
fn migrate_without_a_database_url_names_the_variable() {
    let mut migrate = Process::spawn(&cli(), &["migrate"], &[]);
    let status = migrate.wait_exit(Duration::from_secs(30));
    assert!(!status.success(), "{}", migrate.report());
    assert!(
        migrate.stderr().contains("DATABASE_URL"),
        "{}",
        migrate.report()
    );
    assert!(
        !migrate.stderr().contains("panicked"),
        "{}",
        migrate.report()
    );
}

/// A database name on the test server that does not exist yet, dropped
/// (if created) when the guard goes.
fn absent_database() -> TestDb {
    let name = format!("gatehouse_dev_{}", uuid::Uuid::new_v4().simple());
    let url = crate::support::db::with_database(&crate::support::db::admin_url(), &name);
    TestDb { name, url }
}

fn database_exists(name: &str) -> bool {
    block_on(async {
        crate::support::db::admin_client()
            .await
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname = $1",
                &[&name],
            )
            .await
            .map(|row| row.get::<_, i64>(0) == 1)
            .unwrap_or_else(|err| panic!("pg_database: {err}"))
    })
}

#[test]
fn a_missing_development_database_is_created_but_a_deployed_one_is_not() {
    // Deployed: a missing database is a wrong DATABASE_URL, named as such.
    let absent = absent_database();
    let mut migrate = Process::spawn(
        &cli(),
        &["migrate"],
        &[("DATABASE_URL", &absent.url), ("ENVIRONMENT", "production")],
    );
    let status = migrate.wait_exit(Duration::from_secs(30));
    assert!(!status.success(), "{}", migrate.report());
    assert!(
        migrate.stderr().contains("does not exist") && migrate.stderr().contains("createdb"),
        "{}",
        migrate.report()
    );
    assert!(
        !database_exists(&absent.name),
        "created outside development"
    );

    // Development (the default): created, migrated, and said once.
    for (run, expect_created) in [(1, true), (2, false)] {
        let mut migrate = Process::spawn(&cli(), &["migrate"], &[("DATABASE_URL", &absent.url)]);
        let status = migrate.wait_exit(Duration::from_secs(30));
        assert!(status.success(), "run {run}: {}", migrate.report());
        assert_eq!(
            migrate.stdout().contains(&format!(
                "created the development database `{}`",
                absent.name
            )),
            expect_created,
            "run {run}: {}",
            migrate.report()
        );
    }
    assert!(database_exists(&absent.name));

    // `gatehouse dev` alike: its own database, ready at start.
    let fresh = absent_database();
    let (_dev, addr) = start_dev(&[("DATABASE_URL", &fresh.url)]);
    let response = get(addr, "/api/health/detailed", &[]);
    assert_eq!(response.status, 200, "{response}");
    assert!(database_exists(&fresh.name));
}

#[test]
fn the_cli_has_help_version_completions_and_standard_usage_errors() {
    let run = |args: &[&str]| {
        let mut process = Process::spawn(&cli(), args, &[]);
        let status = process.wait_exit(Duration::from_secs(30));
        (status.code(), process.stdout(), process.stderr())
    };
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out.trim(),
        format!("gatehouse {}", env!("CARGO_PKG_VERSION"))
    );
    let (code, out, _) = run(&["api-keys", "create", "--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("--expires-in-days <DAYS>"), "{out}");
    let (code, out, _) = run(&["completions", "bash"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("complete -F") && out.contains("api-keys"),
        "{out}"
    );
    let (code, _, err) = run(&["dev", "--port", "http"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("invalid value 'http' for '--port <PORT>'"),
        "{err}"
    );
}
