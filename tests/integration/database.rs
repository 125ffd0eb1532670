//! The pool and its serverless behaviours, against a real
//! PostgreSQL (a fresh database per test).

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::config::{Config, DatabaseConfig, Env, Needs};
use gatehouse::db::{Database, DbError};
use tokio_postgres::types::Type;

use crate::support::db::{TestDb, admin_client, with_database};
use crate::support::tcp_proxy::Proxy;

fn settings(url: &str, extra: &[(&str, &str)]) -> DatabaseConfig {
    let mut pairs = vec![("DATABASE_URL", url)];
    pairs.extend_from_slice(extra);
    Config::load(&Env::from_pairs(pairs), Needs::DATABASE)
        .unwrap_or_else(|errors| panic!("test configuration invalid: {errors}"))
        .database
        .expect("database configured")
}

async fn backend_pid(db: &Database) -> i32 {
    db.query_opt("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid query")
        .expect("one row")
        .get(0)
}

/// Connections the server has open for this test's database.
async fn server_connections(name: &str) -> i64 {
    admin_client()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&name],
        )
        .await
        .expect("pg_stat_activity")
        .get(0)
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn the_pool_reuses_one_connection_for_sequential_queries() {
    let test_db = TestDb::create().await;
    let db = Database::new(&settings(&test_db.url, &[])).expect("pool");
    let first = backend_pid(&db).await;
    for _ in 0..5 {
        assert_eq!(backend_pid(&db).await, first, "a new connection was opened");
    }
    assert_eq!(db.status().size, 1);
    assert_eq!(server_connections(&test_db.name).await, 1);
}

#[tokio::test]
async fn a_function_that_never_queries_never_connects() {
    let test_db = TestDb::create().await;
    let _db = Database::new(&settings(&test_db.url, &[])).expect("pool");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server_connections(&test_db.name).await, 0);
}

#[tokio::test]
async fn a_terminated_connection_is_replaced_without_failing_the_query() {
    let test_db = TestDb::create().await;
    let db = Database::new(&settings(&test_db.url, &[])).expect("pool");
    let victim = backend_pid(&db).await;
    let terminated: bool = admin_client()
        .await
        .query_one("SELECT pg_terminate_backend($1)", &[&victim])
        .await
        .expect("terminate")
        .get(0);
    assert!(terminated);
    let replacement = backend_pid(&db).await;
    assert_ne!(replacement, victim);
}

#[tokio::test]
async fn a_silently_dropped_connection_is_retried_once_on_a_fresh_one() {
    let test_db = TestDb::create().await;
    let proxy = Proxy::start("127.0.0.1:5432".parse().expect("addr")).await;
    let url = with_database(
        &format!("postgres://postgres@127.0.0.1:{}/x", proxy.port),
        &test_db.name,
    );
    let db =
        Database::new(&settings(&url, &[("DATABASE_IDLE_TIMEOUT_SECS", "600")])).expect("pool");
    let before = backend_pid(&db).await;
    assert_eq!(proxy.accepted.load(std::sync::atomic::Ordering::SeqCst), 1);

    // The socket dies without a word, as behind a NAT: the pool cannot see
    // it at checkout, so only the retry can save the query.
    proxy.kill_existing();
    let after = backend_pid(&db).await;
    assert_ne!(after, before);
    assert_eq!(
        proxy.accepted.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "expected exactly one reconnect"
    );
}

#[tokio::test]
async fn idle_connections_are_closed_by_the_sweep() {
    let test_db = TestDb::create().await;
    let db = Database::new(&settings(
        &test_db.url,
        &[("DATABASE_IDLE_TIMEOUT_SECS", "0.3")],
    ))
    .expect("pool");
    let first = backend_pid(&db).await;
    assert_eq!(server_connections(&test_db.name).await, 1);
    let closed = eventually(Duration::from_secs(5), async || {
        db.status().size == 0 && server_connections(&test_db.name).await == 0
    })
    .await;
    assert!(closed, "idle connection still open: {:?}", db.status());
    assert_ne!(backend_pid(&db).await, first);
}

#[tokio::test]
async fn a_connection_idle_past_the_timeout_is_never_handed_out() {
    let test_db = TestDb::create().await;
    let config = settings(&test_db.url, &[("DATABASE_IDLE_TIMEOUT_SECS", "0.3")]);
    // Built outside a runtime there is no sweep: this is a frozen Lambda
    // instance thawing, where only the checkout check stands guard.
    let db = std::thread::spawn(move || Database::new(&config))
        .join()
        .expect("thread")
        .expect("pool");
    let first = backend_pid(&db).await;
    assert_eq!(backend_pid(&db).await, first, "reused while fresh");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        db.status().size,
        1,
        "no sweep ran, the stale connection is still pooled"
    );
    assert_ne!(
        backend_pid(&db).await,
        first,
        "a stale connection was handed out"
    );
    assert_eq!(db.status().size, 1);
}

#[tokio::test]
async fn the_pool_never_exceeds_its_maximum_under_concurrent_load() {
    let test_db = TestDb::create().await;
    let db = Database::new(&settings(&test_db.url, &[("DATABASE_POOL_MAX", "3")])).expect("pool");
    let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let db = db.clone();
        let peak = peak.clone();
        tasks.spawn(async move {
            db.query("SELECT pg_sleep(0.02)", &[])
                .await
                .expect("query under load");
            peak.fetch_max(db.status().size, std::sync::atomic::Ordering::SeqCst);
        });
    }
    let name = test_db.name.clone();
    let watcher = tokio::spawn(async move {
        let mut server_peak = 0;
        for _ in 0..20 {
            server_peak = server_peak.max(server_connections(&name).await);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server_peak
    });
    while let Some(result) = tasks.join_next().await {
        result.expect("task");
    }
    let server_peak = watcher.await.expect("watcher");
    assert!(peak.load(std::sync::atomic::Ordering::SeqCst) <= 3);
    assert!(server_peak <= 3, "server saw {server_peak} connections");
    assert!(
        server_peak >= 2,
        "the load never ran concurrently (peak {server_peak}): the test proves nothing"
    );
}

#[tokio::test]
async fn queries_leave_no_named_prepared_statements() {
    // Transaction-mode poolers hand each statement to any server connection,
    // so a named prepared statement from one is unknown on the next.
    let test_db = TestDb::create().await;
    let db = Database::new(&settings(&test_db.url, &[])).expect("pool");
    let value = 41i32;
    let row = db
        .query_opt("SELECT $1::int4 + 1", &[(&value, Type::INT4)])
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.get::<_, i32>(0), 42);
    let prepared: i64 = db
        .query_opt("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .expect("query")
        .expect("row")
        .get(0);
    assert_eq!(prepared, 0);
}

#[tokio::test]
async fn a_slow_statement_is_cancelled_at_the_statement_timeout() {
    let test_db = TestDb::create().await;
    let db = Database::new(&settings(
        &test_db.url,
        &[("DATABASE_STATEMENT_TIMEOUT_SECS", "0.3")],
    ))
    .expect("pool");
    let started = Instant::now();
    let err = db
        .query("SELECT pg_sleep(30)", &[])
        .await
        .expect_err("must time out");
    assert!(matches!(err, DbError::StatementTimeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let name = test_db.name.clone();
    let cancelled = eventually(Duration::from_secs(5), async || {
        let running: i64 = admin_client()
            .await
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'",
                &[&name],
            )
            .await
            .expect("activity")
            .get(0);
        running == 0
    })
    .await;
    assert!(
        cancelled,
        "the server is still running the timed-out statement"
    );
    assert!(
        backend_pid(&db).await > 0,
        "the pool still works afterwards"
    );
}

#[tokio::test]
async fn an_unreachable_database_fails_fast_and_a_silent_one_within_the_connect_timeout() {
    // Connection refused: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let db = Database::new(&settings(
        &format!("postgres://postgres:pw@127.0.0.1:{port}/x"),
        &[],
    ))
    .expect("pool");
    let err = db.query("SELECT 1", &[]).await.expect_err("refused");
    assert!(matches!(err, DbError::Connect { .. }), "{err:?}");

    // Accepts TCP, never speaks: only the connect timeout ends the wait.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let db = Database::new(&settings(
        &format!("postgres://postgres:pw@127.0.0.1:{port}/x"),
        &[("DATABASE_CONNECT_TIMEOUT_SECS", "0.5")],
    ))
    .expect("pool");
    let started = Instant::now();
    let err = db.query("SELECT 1", &[]).await.expect_err("timeout");
    assert!(matches!(err, DbError::ConnectTimeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let shown = format!("{err} {} {}", err.public_detail(), err.hint());
    assert!(!shown.contains(":pw@"), "{shown}");
    held.abort();
}

mod tls {
    use super::*;

    const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

    async fn ssl_in_use(db: &Database) -> Result<bool, DbError> {
        Ok(db
            .query_opt(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await?
            .is_some_and(|row| row.get(0)))
    }

    async fn server_has_tls() {
        let on: String = admin_client()
            .await
            .query_one("SHOW ssl", &[])
            .await
            .expect("show ssl")
            .get(0);
        assert_eq!(
            on, "on",
            "these tests need TLS on the test PostgreSQL (Debian's default, with the snakeoil certificate): set ssl = on"
        );
    }

    #[tokio::test]
    async fn sslmode_require_encrypts() {
        server_has_tls().await;
        let test_db = TestDb::create().await;
        let url = format!(
            "postgres://postgres@127.0.0.1:5432/{}?sslmode=require",
            test_db.name
        );
        let db = Database::new(&settings(&url, &[])).expect("pool");
        assert!(ssl_in_use(&db).await.expect("require connects"));
        let url = format!(
            "postgres://postgres@127.0.0.1:5432/{}?sslmode=disable",
            test_db.name
        );
        let db = Database::new(&settings(&url, &[])).expect("pool");
        assert!(!ssl_in_use(&db).await.expect("disable connects"));
    }

    #[tokio::test]
    async fn sslmode_verify_full_checks_the_chain_and_the_name() {
        server_has_tls().await;
        assert!(
            std::path::Path::new(SNAKEOIL).exists(),
            "{SNAKEOIL} missing: install Debian's ssl-cert package"
        );
        let test_db = TestDb::create().await;
        let name = &test_db.name;

        // Untrusted certificate: refused.
        let db = Database::new(&settings(
            &format!("postgres://postgres@localhost:5432/{name}?sslmode=verify-full"),
            &[],
        ))
        .expect("pool");
        let err = db
            .query("SELECT 1", &[])
            .await
            .expect_err("an untrusted certificate was accepted");
        assert_tls_refused(&err, "UnknownIssuer");

        // Trusted through sslrootcert, right name: accepted.
        let db = Database::new(&settings(
            &format!("postgres://postgres@localhost:5432/{name}?sslmode=verify-full&sslrootcert={SNAKEOIL}"),
            &[],
        ))
        .expect("pool");
        assert!(
            ssl_in_use(&db)
                .await
                .expect("verify-full with the right root and name")
        );

        // Trusted, but the certificate names localhost, not 127.0.0.1.
        let db = Database::new(&settings(
            &format!("postgres://postgres@127.0.0.1:5432/{name}?sslmode=verify-full&sslrootcert={SNAKEOIL}"),
            &[],
        ))
        .expect("pool");
        let err = db
            .query("SELECT 1", &[])
            .await
            .expect_err("a certificate for another name was accepted");
        assert_tls_refused(&err, "NotValidForName");

        // verify-ca ignores the name.
        let db = Database::new(&settings(
            &format!(
                "postgres://postgres@127.0.0.1:5432/{name}?sslmode=verify-ca&sslrootcert={SNAKEOIL}"
            ),
            &[],
        ))
        .expect("pool");
        assert!(ssl_in_use(&db).await.expect("verify-ca"));
    }
}

/// The connection failed in the TLS handshake, for `reason` (rustls's
/// certificate error variant), not for anything else a broken setup causes.
#[track_caller]
fn assert_tls_refused(err: &DbError, reason: &str) {
    let mut chain = format!("{err:?}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        chain.push_str(&format!(" <- {cause:?}"));
        source = cause.source();
    }
    assert!(
        matches!(err, DbError::Connect { .. }) && chain.contains(reason),
        "expected a TLS refusal ({reason}), got: {chain}"
    );
}
