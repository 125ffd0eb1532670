//! A fresh PostgreSQL database per test, so tests run in parallel and never
//! see each other's rows. Dropped (forcibly) when the guard goes away.
//!
//! The server comes from `TEST_DATABASE_URL`, else `DATABASE_URL`, else the
//! local default `postgres://postgres@127.0.0.1:5432/postgres`. If it cannot
//! be reached the test fails with the fix; it is never skipped.

use std::time::Duration;

use tokio_postgres::NoTls;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// Connects to the admin database, failing loudly with the fix.
pub async fn admin_client() -> tokio_postgres::Client {
    let url = admin_url();
    let connect = tokio_postgres::connect(&url, NoTls);
    let (client, connection) = match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(err)) => panic!(
            "cannot reach PostgreSQL for the tests ({err}). Start it (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or any Postgres) and set TEST_DATABASE_URL to a superuser URL such as {DEFAULT_ADMIN_URL}"
        ),
        Err(_) => panic!("PostgreSQL did not answer within 10 s; check TEST_DATABASE_URL"),
    };
    tokio::spawn(connection);
    client
}

/// A database created for one test.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
        admin_client()
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|err| panic!("could not create test database {name}: {err}"));
        let url = with_database(&admin_url(), &name);
        TestDb { name, url }
    }
}

/// `/api/health/detailed`'s `migrations` for a database at `versions`
/// (runtime's, then the app's).
pub fn migrations_json(versions: [i32; 2]) -> serde_json::Value {
    use gatehouse::db::migrations::RUNTIME;
    use gatehouse_app::migrations::APP;
    serde_json::json!([
        {"component": RUNTIME.name, "version": versions[0], "expected": RUNTIME.latest_version()},
        {"component": APP.name, "version": versions[1], "expected": APP.latest_version()},
    ])
}

/// `migrations_json` of an up-to-date database.
pub fn current_migrations_json() -> serde_json::Value {
    migrations_json([
        gatehouse::db::migrations::RUNTIME.latest_version(),
        gatehouse_app::migrations::APP.latest_version(),
    ])
}

impl TestDb {
    /// Applies Gatehouse's migrations, as `gatehouse migrate` does.
    pub async fn migrate(&self) {
        let env = gatehouse::config::Env::from_pairs([("DATABASE_URL", self.url.as_str())]);
        let config = gatehouse::config::Config::load(&env, gatehouse::config::Needs::DATABASE)
            .unwrap_or_else(|errors| panic!("test configuration invalid: {errors}"));
        let settings = config.database.expect("DATABASE_URL is set");
        let db = gatehouse::db::Database::new(&settings).expect("pool");
        gatehouse::db::migrations::apply(&db, &[&gatehouse_app::migrations::APP])
            .await
            .unwrap_or_else(|err| panic!("migrations on {}: {err}", self.name));
        db.close();
    }

    /// The single `bigint` a query returns (`SELECT count(*) ...`).
    pub async fn count(&self, sql: &str) -> i64 {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .unwrap_or_else(|err| panic!("connect to {}: {err}", self.name));
        tokio::spawn(connection);
        client
            .query_one(sql, &[])
            .await
            .and_then(|row| row.try_get::<_, i64>(0))
            .unwrap_or_else(|err| panic!("{sql}: {err}"))
    }

    /// Runs SQL on this database (test set-up: expiring a session...).
    pub async fn execute(&self, sql: &str) {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .unwrap_or_else(|err| panic!("connect to {}: {err}", self.name));
        tokio::spawn(connection);
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async context; use a private runtime on a thread.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let Ok((client, connection)) = tokio_postgres::connect(&admin_url(), NoTls).await
                else {
                    return;
                };
                tokio::spawn(connection);
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let authority = rest
        .split_once('/')
        .map_or(rest, |(authority, _)| authority);
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}
