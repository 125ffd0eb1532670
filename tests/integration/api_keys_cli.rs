//! `gatehouse api-keys` against a real PostgreSQL: a key the CLI prints is
//! one `gatehouse::auth::api_keys::verify` accepts with its scopes; `list`
//! never shows it; `revoke` makes it refused; and every failure is typed.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use gatehouse::auth::api_keys::{self, ApiKeyError};
use gatehouse::clock::unix_now;
use gatehouse::config::{Config, DatabaseConfig, Env, Needs};
use gatehouse::db::{Database, migrations};

use crate::support::db::TestDb;
use crate::support::function::{Process, free_port, gatehouse_cli};

const CLI_TIMEOUT: Duration = Duration::from_secs(30);

fn settings(url: &str) -> DatabaseConfig {
    Config::load(&Env::from_pairs([("DATABASE_URL", url)]), Needs::DATABASE)
        .unwrap_or_else(|errors| panic!("test configuration invalid: {errors}"))
        .database
        .expect("database configured")
}

/// A fresh database with every migration applied, and a pool on it.
async fn migrated() -> (TestDb, Arc<Database>) {
    let test_db = TestDb::create().await;
    let db = Database::new(&settings(&test_db.url)).expect("pool");
    migrations::apply(&db, &[&gatehouse_app::migrations::APP])
        .await
        .expect("migrations apply");
    (test_db, db)
}

/// One finished run of the CLI.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    report: String,
}

/// Runs `gatehouse <args>` with only `env`, off the runtime's thread (it
/// blocks until the process exits).
async fn gatehouse(args: &[&str], env: &[(&str, &str)]) -> Run {
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let cli = gatehouse_cli().to_string_lossy().into_owned();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut process = Process::spawn(&cli, &args, &env);
        let status = process.wait_exit(CLI_TIMEOUT);
        Run {
            status,
            stdout: process.stdout(),
            stderr: process.stderr(),
            report: process.report(),
        }
    })
    .await
    .expect("the CLI runner thread")
}

/// `key` with one character of its secret part changed.
fn tampered(key: &str) -> String {
    let index = key.len() - 10;
    let original = &key[index..=index];
    let replacement = if original == "A" { "B" } else { "A" };
    let mut changed = key.to_owned();
    changed.replace_range(index..=index, replacement);
    changed
}

#[tokio::test]
async fn a_key_created_by_the_cli_is_verified_listed_and_revoked() {
    let (test_db, db) = migrated().await;
    let url = test_db.url.as_str();

    let created = gatehouse(
        &[
            "api-keys",
            "create",
            "--name",
            "billing worker",
            "--scope",
            "orders:read",
            "--scope",
            "orders:write",
            "--expires-in-days",
            "30",
        ],
        &[("DATABASE_URL", url)],
    )
    .await;
    assert!(created.status.success(), "{}", created.report);
    // The key alone on stdout, so `KEY=$(gatehouse api-keys create ...)` works.
    let key = created.stdout.trim_end_matches('\n').to_owned();
    assert!(!key.contains('\n'), "{}", created.report);
    assert!(api_keys::looks_like_api_key(&key), "{}", created.report);
    assert_eq!(key.len(), api_keys::KEY_LEN, "{}", created.report);
    let lookup = key[3..15].to_owned();
    let secret = key[16..].to_owned();
    assert!(created.stderr.contains(&lookup), "{}", created.report);
    assert!(
        created.stderr.contains("shown only this once"),
        "{}",
        created.report
    );
    assert!(created.stderr.contains("orders:read"), "{}", created.report);
    assert!(!created.stderr.contains(&secret), "{}", created.report);

    let verified = api_keys::verify(&db, &key).await.expect("the key verifies");
    assert_eq!(verified.lookup, lookup);
    assert_eq!(verified.name, "billing worker");
    assert_eq!(verified.scopes, ["orders:read", "orders:write"]);
    let expires_at = verified.expires_at.expect("an expiry");
    let in_30_days = unix_now() + 30 * 86_400;
    assert!(
        (in_30_days - 120..=in_30_days + 5).contains(&expires_at),
        "{expires_at} vs {in_30_days}"
    );

    // Use is recorded, at most once a minute.
    let records = api_keys::list(&db).await.expect("list");
    assert_eq!(records.len(), 1);
    let first_use = records[0].last_used_at.expect("last_used_at recorded");
    api_keys::verify(&db, &key).await.expect("verifies again");
    assert_eq!(
        api_keys::list(&db).await.expect("list")[0].last_used_at,
        Some(first_use)
    );

    // The table and the JSON show the key's facts, never the key.
    let listed = gatehouse(&["api-keys", "list"], &[("DATABASE_URL", url)]).await;
    assert!(listed.status.success(), "{}", listed.report);
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", listed.report);
    for column in [
        "ID",
        "LOOKUP",
        "NAME",
        "SCOPES",
        "CREATED",
        "LAST USED",
        "EXPIRES",
        "REVOKED",
    ] {
        assert!(lines[0].contains(column), "{}", listed.report);
    }
    for fact in [
        lookup.as_str(),
        &verified.id.to_string(),
        "billing worker",
        "orders:read,orders:write",
    ] {
        assert!(lines[1].contains(fact), "{fact} missing\n{}", listed.report);
    }
    assert!(!listed.stdout.contains(&secret), "{}", listed.report);
    assert!(!listed.stderr.contains(&secret), "{}", listed.report);

    let json = gatehouse(&["api-keys", "list", "--json"], &[("DATABASE_URL", url)]).await;
    assert!(json.status.success(), "{}", json.report);
    assert!(!json.stdout.contains(&secret), "{}", json.report);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON on stdout");
    let record = &json[0];
    assert_eq!(record["id"], verified.id.to_string());
    assert_eq!(record["lookup"], lookup);
    assert_eq!(
        record["scopes"],
        serde_json::json!(["orders:read", "orders:write"])
    );
    assert_eq!(record["expires_at"], expires_at);
    assert_eq!(record["last_used_at"], first_use);
    assert_eq!(record["revoked_at"], serde_json::Value::Null);
    assert!(record.get("key").is_none() && record.get("key_hash").is_none());

    // Refusals that never reach the row's state.
    assert!(matches!(
        api_keys::verify(&db, &tampered(&key)).await,
        Err(ApiKeyError::Unknown)
    ));
    let other_lookup = if lookup.starts_with('A') { "B" } else { "A" };
    let unknown = format!("gk_{other_lookup}{}_{secret}", &lookup[1..]);
    assert!(matches!(
        api_keys::verify(&db, &unknown).await,
        Err(ApiKeyError::Unknown)
    ));
    assert!(matches!(
        api_keys::verify(&db, &key[..key.len() - 1]).await,
        Err(ApiKeyError::Malformed(_))
    ));

    // Revoked: refused from then on, and revoking again changes nothing.
    let revoked = gatehouse(&["api-keys", "revoke", &lookup], &[("DATABASE_URL", url)]).await;
    assert!(revoked.status.success(), "{}", revoked.report);
    assert!(revoked.stdout.contains("revoked"), "{}", revoked.report);
    let revoked_at = match api_keys::verify(&db, &key).await {
        Err(ApiKeyError::Revoked { revoked_at }) => revoked_at,
        other => panic!("a revoked key gave {other:?}"),
    };
    assert!((unix_now() - 60..=unix_now()).contains(&revoked_at));
    // The hash is still checked first: a wrong secret stays unknown.
    assert!(matches!(
        api_keys::verify(&db, &tampered(&key)).await,
        Err(ApiKeyError::Unknown)
    ));
    let again = gatehouse(
        &["api-keys", "revoke", &verified.id.to_string()],
        &[("DATABASE_URL", url)],
    )
    .await;
    assert!(again.status.success(), "{}", again.report);
    // A whole key (found in a log, say) names its own lookup.
    let by_key = gatehouse(&["api-keys", "revoke", &key], &[("DATABASE_URL", url)]).await;
    assert!(by_key.status.success(), "{}", by_key.report);
    assert!(by_key.stdout.contains(&lookup), "{}", by_key.report);
    assert_eq!(
        api_keys::list(&db).await.expect("list")[0].revoked_at,
        Some(revoked_at)
    );

    let missing = gatehouse(
        &["api-keys", "revoke", "nosuchlookup"],
        &[("DATABASE_URL", url)],
    )
    .await;
    assert!(!missing.status.success(), "{}", missing.report);
    assert!(
        missing
            .stderr
            .contains("no API key has the id or lookup \"nosuchlookup\""),
        "{}",
        missing.report
    );
    assert!(
        missing.stderr.contains("api-keys list"),
        "{}",
        missing.report
    );
    assert!(!missing.stderr.contains("panicked"), "{}", missing.report);
}

#[tokio::test]
async fn expired_keys_are_refused_and_bad_input_is_named() {
    let (test_db, db) = migrated().await;
    let scopes = vec!["reports:read".to_owned()];
    let new = api_keys::create(&db, "nightly", &scopes, Some(Duration::from_secs(3600)))
        .await
        .expect("create");
    assert!(!format!("{new:?}").contains(new.key.expose()));
    let verified = api_keys::verify(&db, new.key.expose())
        .await
        .expect("valid");
    assert_eq!(verified.scopes, scopes);
    assert_eq!(verified.expires_at, new.expires_at);

    db.query(
        "UPDATE gatehouse_api_keys SET expires_at = now() - interval '1 second' WHERE id = $1",
        &[(&new.id, tokio_postgres::types::Type::UUID)],
    )
    .await
    .expect("backdate");
    match api_keys::verify(&db, new.key.expose()).await {
        Err(ApiKeyError::Expired { expires_at }) => assert!(expires_at <= unix_now()),
        other => panic!("an expired key gave {other:?}"),
    }

    let bad_scope = gatehouse(
        &["api-keys", "create", "--name", "x", "--scope", "Orders"],
        &[("DATABASE_URL", &test_db.url)],
    )
    .await;
    assert!(!bad_scope.status.success(), "{}", bad_scope.report);
    assert!(bad_scope.stdout.is_empty(), "{}", bad_scope.report);
    assert!(
        bad_scope.stderr.contains("\"Orders\"") && bad_scope.stderr.contains("fix:"),
        "{}",
        bad_scope.report
    );
    assert_eq!(api_keys::list(&db).await.expect("list").len(), 1);
}

#[tokio::test]
async fn before_migrate_the_cli_says_to_run_it() {
    let test_db = TestDb::create().await;
    for args in [
        &["api-keys", "list"][..],
        &["api-keys", "create", "--name", "x"][..],
        &["api-keys", "revoke", "abc"][..],
    ] {
        let run = gatehouse(args, &[("DATABASE_URL", &test_db.url)]).await;
        assert!(!run.status.success(), "{}", run.report);
        assert!(
            run.stderr.contains("run `gatehouse migrate`"),
            "{}",
            run.report
        );
        assert!(run.stdout.is_empty(), "{}", run.report);
    }
}

#[tokio::test]
async fn without_a_database_the_cli_names_the_fix() {
    let unset = gatehouse(&["api-keys", "list"], &[]).await;
    assert!(!unset.status.success(), "{}", unset.report);
    assert!(unset.stderr.contains("DATABASE_URL"), "{}", unset.report);

    let closed = format!("postgres://postgres@127.0.0.1:{}/gatehouse", free_port());
    let down = gatehouse(&["api-keys", "list"], &[("DATABASE_URL", &closed)]).await;
    assert!(!down.status.success(), "{}", down.report);
    assert!(
        down.stderr.contains("could not list the API keys") && down.stderr.contains("fix:"),
        "{}",
        down.report
    );
    assert!(!down.stderr.contains("panicked"), "{}", down.report);
}

#[tokio::test]
async fn a_database_that_is_down_is_a_store_error_not_a_refusal() {
    let closed = format!("postgres://postgres@127.0.0.1:{}/gatehouse", free_port());
    let db = Database::new(&settings(&closed)).expect("pool");
    let key = format!("gk_{}_{}", "A".repeat(12), "b".repeat(43));
    match api_keys::verify(&db, &key).await {
        Err(ApiKeyError::Store(err)) => {
            assert!(!err.to_string().contains(&"b".repeat(43)), "{err}")
        }
        other => panic!("a down database gave {other:?}"),
    }
    // Shape is checked before the database is asked.
    assert!(matches!(
        api_keys::verify(&db, "gk_short").await,
        Err(ApiKeyError::Malformed(_))
    ));
}
