//! The migration history, against a real PostgreSQL (a fresh database per
//! test): the runtime's migrations, then the app's, recorded by component;
//! applied once, serialized, checked for edits; and a database left by any
//! earlier build upgrades to exactly the schema of a fresh one, losing no
//! row.

use gatehouse::config::{Config, Env, Needs};
use gatehouse::db::migrations::{self, Applied, RUNTIME};
use gatehouse::db::{Database, DbError};
use gatehouse_app::migrations::APP;

use crate::support::db::TestDb;
use crate::support::function::block_on;

fn database(db: &TestDb) -> std::sync::Arc<Database> {
    let config = Config::load(
        &Env::from_pairs([("DATABASE_URL", db.url.as_str())]),
        Needs::DATABASE,
    )
    .unwrap_or_else(|errors| panic!("test configuration invalid: {errors}"));
    Database::new(config.database.as_ref().expect("database settings")).expect("pool")
}

fn applied(list: &[(&'static str, i32)]) -> Vec<Applied> {
    list.iter()
        .map(|&(component, version)| Applied { component, version })
        .collect()
}

/// Every table column, index, constraint, function and trigger of the
/// database's `public` schema, one line each, sorted.
async fn schema(db: &TestDb) -> Vec<String> {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .query(
            "SELECT 'column ' || c.table_name || '.' || c.column_name || ' #' || c.ordinal_position
                    || ' ' || c.data_type || ' null:' || c.is_nullable || ' default:' || coalesce(c.column_default, '')
               FROM information_schema.columns c WHERE c.table_schema = 'public'
             UNION ALL
             SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
             UNION ALL
             SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
               FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             UNION ALL
             SELECT 'function ' || pg_get_functiondef(p.oid)
               FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
             UNION ALL
             SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE NOT t.tgisinternal
             ORDER BY 1",
            &[],
        )
        .await
        .expect("schema query")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn a_fresh_database_takes_the_runtime_then_the_app_once() {
    let test_db = TestDb::create().await;
    let db = database(&test_db);
    let before = migrations::versions_in(&db, &[&APP])
        .await
        .expect("versions");
    assert!(
        before.iter().all(|v| v.version == 0 && !v.is_current()),
        "{before:?}"
    );

    let first = migrations::apply(&db, &[&APP]).await.expect("first apply");
    // 3 and 4 are upgrade-only: a fresh database gets their end state from 5.
    assert_eq!(
        first.applied,
        applied(&[
            ("gatehouse", 1),
            ("gatehouse", 2),
            ("gatehouse", 5),
            ("gatehouse", 6),
            ("gatehouse", 7),
            ("app", 1)
        ])
    );
    assert!(first.versions.iter().all(|v| v.is_current()), "{first:?}");
    let second = migrations::apply(&db, &[&APP]).await.expect("second apply");
    assert!(second.applied.is_empty(), "{second:?}");
    assert_eq!(second.versions, first.versions);
    assert_eq!(
        migrations::versions_in(&db, &[&APP])
            .await
            .expect("versions"),
        first.versions
    );
    assert_eq!(
        test_db
            .count("SELECT count(*) FROM gatehouse_schema_migrations")
            .await,
        6
    );
}

#[tokio::test]
async fn the_runtime_alone_creates_none_of_the_apps_tables() {
    let test_db = TestDb::create().await;
    let db = database(&test_db);
    let report = migrations::apply(&db, &[]).await.expect("apply");
    assert_eq!(report.versions.len(), 1, "{report:?}");
    assert_eq!(report.versions[0].version, RUNTIME.latest_version());
    let tables: Vec<String> = schema(&test_db)
        .await
        .into_iter()
        .filter_map(|line| {
            line.strip_prefix("column ")
                .and_then(|rest| rest.split('.').next())
                .map(str::to_owned)
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        tables,
        [
            "gatehouse_api_keys",
            "gatehouse_revoked_tokens",
            "gatehouse_schema_migrations",
            "gatehouse_sessions",
            "gatehouse_subject_cutoffs",
            "gatehouse_users",
        ],
        "a team's database holds the runtime's tables only"
    );
    // The app, added later, comes on top.
    let report = migrations::apply(&db, &[&APP])
        .await
        .expect("apply the app");
    assert_eq!(report.applied, applied(&[("app", 1)]));
}

#[tokio::test]
async fn concurrent_migrations_serialize_instead_of_racing() {
    let test_db = TestDb::create().await;
    let a = database(&test_db);
    let b = database(&test_db);
    let (ra, rb) = tokio::join!(
        migrations::apply(&a, &[&APP]),
        migrations::apply(&b, &[&APP])
    );
    let (ra, rb) = (ra.expect("a"), rb.expect("b"));
    assert_eq!(ra.applied.len() + rb.applied.len(), 6, "{ra:?} {rb:?}");
}

#[tokio::test]
async fn an_edited_migration_is_detected_in_either_component() {
    let test_db = TestDb::create().await;
    let db = database(&test_db);
    migrations::apply(&db, &[&APP]).await.expect("apply");
    for (component, expected) in [("app", "app"), ("gatehouse", "gatehouse")] {
        db.query(
            &format!(
                "UPDATE gatehouse_schema_migrations SET checksum = 'tampered' WHERE component = '{component}' AND version = 1"
            ),
            &[],
        )
        .await
        .expect("tamper");
        let err = migrations::apply(&db, &[&APP])
            .await
            .expect_err("must refuse");
        assert!(
            matches!(err, DbError::MigrationChanged { component, version: 1, .. } if component == expected),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("{expected} migration 1")),
            "{err}"
        );
    }
}

/// Rows an earlier build stored, in the shape it stored them.
async fn store_rows_of_build(db: &TestDb, released: i32) {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    // Before migration 4, identities were bare subjects.
    let user = if released >= 4 {
        "better-auth:user-42"
    } else {
        "user-42"
    };
    client
        .batch_execute(&format!(
            "INSERT INTO gatehouse_subject_cutoffs (subject, not_before) VALUES ('{user}', now());
             INSERT INTO gatehouse_revoked_tokens (token_id, subject, expires_at)
               VALUES ('jti:x', '{user}', now() + interval '1 hour');
             INSERT INTO gatehouse_users (id, profile) VALUES ('{user}', '{{}}');
             INSERT INTO gatehouse_api_keys (id, lookup, key_hash, name)
               VALUES ('0190a5b2-7c3e-7d4f-8a9b-0c1d2e3f4a5b', 'lookup', '\\x01', 'ci')"
        ))
        .await
        .expect("runtime rows");
    if released >= 3 {
        let key_owner = if released >= 4 {
            "api-key:0190a5b2-7c3e-7d4f-8a9b-0c1d2e3f4a5b"
        } else {
            "api_key:0190a5b2-7c3e-7d4f-8a9b-0c1d2e3f4a5b"
        };
        client
            .batch_execute(&format!(
                "INSERT INTO gatehouse_tasks (id, owner, title) VALUES
                   (gen_random_uuid(), '{user}', 'a user''s'),
                   (gen_random_uuid(), '{key_owner}', 'a key''s');
                 INSERT INTO gatehouse_idempotency_keys (owner, key, request_hash, task_id)
                   VALUES ('{user}', 'k', '\\x02', gen_random_uuid());
                 INSERT INTO gatehouse_sessions (id, token_hash, subject, principal, expires_at)
                   VALUES (gen_random_uuid(), '\\x01', '{user}', '{{\"subject\":\"user-42\"}}', now() + interval '1 hour')"
            ))
            .await
            .expect("app rows");
    }
}

/// A database migrated by each earlier build (the runtime's migrations up
/// to 2, 3, 4 and 5: 4 was `main` before the app had its own history, 5
/// before revocations carried their change stamp)
/// upgrades to the schema a fresh database gets, without losing a row; rows
/// stored with bare subjects get the namespace `gatehouse migrate` assumes,
/// API-key owners `api-key`.
#[test]
fn a_database_of_every_earlier_build_upgrades_to_the_fresh_schema_without_loss() {
    let fresh = block_on(TestDb::create());
    block_on(async {
        let db = database(&fresh);
        migrations::apply(&db, &[&APP]).await.expect("fresh");
        db.close();
    });
    let fresh_schema = block_on(schema(&fresh));
    assert!(
        fresh_schema
            .iter()
            .any(|l| l.contains("gatehouse_tasks.last_write"))
            && fresh_schema
                .iter()
                .any(|l| l.contains("gatehouse_sessions.source_revocation_id"))
            && fresh_schema
                .iter()
                .any(|l| l.contains("gatehouse_idempotency_keys_purge")),
        "the fresh schema has what 3 and 4 made: {fresh_schema:#?}"
    );

    for released in [2, 3, 4, 5] {
        let old = block_on(TestDb::create());
        let report = block_on(async {
            let db = database(&old);
            migrations::apply_as_released(&db, released)
                .await
                .expect("the older build's migrations");
            store_rows_of_build(&old, released).await;
            let report = migrations::apply_assuming(&db, &[&APP], "better-auth")
                .await
                .unwrap_or_else(|err| panic!("upgrade from {released}: {err}"));
            db.close();
            report
        });
        let expected: Vec<(&str, i32)> = (released + 1..=RUNTIME.latest_version())
            .map(|version| ("gatehouse", version))
            .chain([("app", 1)])
            .collect();
        assert_eq!(report.applied, applied(&expected), "from {released}");
        assert!(report.versions.iter().all(|v| v.is_current()), "{report:?}");

        let upgraded_schema = block_on(schema(&old));
        let only_fresh: Vec<_> = fresh_schema
            .iter()
            .filter(|l| !upgraded_schema.contains(l))
            .collect();
        let only_upgraded: Vec<_> = upgraded_schema
            .iter()
            .filter(|l| !fresh_schema.contains(l))
            .collect();
        assert!(
            only_fresh.is_empty() && only_upgraded.is_empty(),
            "upgraded from {released}, the schema differs from a fresh one:\nonly fresh: {only_fresh:#?}\nonly upgraded: {only_upgraded:#?}"
        );

        let count = |sql: &str| block_on(old.count(sql));
        for (table, column) in [
            ("gatehouse_subject_cutoffs", "subject"),
            ("gatehouse_revoked_tokens", "subject"),
            ("gatehouse_users", "id"),
        ] {
            assert_eq!(
                count(&format!(
                    "SELECT count(*) FROM {table} WHERE {column} = 'better-auth:user-42'"
                )),
                1,
                "{table}, from {released}"
            );
        }
        assert_eq!(count("SELECT count(*) FROM gatehouse_api_keys"), 1);
        // Revocations stored before their change stamp existed are read by
        // an instance's first read, as every other.
        assert_eq!(
            count("SELECT count(*) FROM gatehouse_revocation_changes(NULL) WHERE kind <> 'h'"),
            2,
            "from {released}"
        );
        if released >= 3 {
            assert_eq!(
                count("SELECT count(*) FROM gatehouse_tasks"),
                2,
                "no task lost"
            );
            assert_eq!(
                count("SELECT count(*) FROM gatehouse_tasks WHERE owner = 'better-auth:user-42'"),
                1,
                "from {released}"
            );
            assert_eq!(
                count(
                    "SELECT count(*) FROM gatehouse_tasks WHERE owner = 'api-key:0190a5b2-7c3e-7d4f-8a9b-0c1d2e3f4a5b'"
                ),
                1,
                "from {released}"
            );
            assert_eq!(
                count(
                    "SELECT count(*) FROM gatehouse_idempotency_keys WHERE owner = 'better-auth:user-42'"
                ),
                1
            );
            assert_eq!(
                count(
                    "SELECT count(*) FROM gatehouse_sessions WHERE subject = 'better-auth:user-42'"
                ),
                1
            );
            // The app's statements work on the carried-over rows.
            assert_eq!(
                count(
                    "SELECT count(*) FROM gatehouse_tasks_page('better-auth:user-42', NULL, NULL, 10, NULL, NULL)"
                ),
                1
            );
        }
    }
}
