//! One revocation rule in two languages: `RevocationState::verdict` in Rust
//! and `gatehouse_is_revoked` / `gatehouse_revocation_state` in SQL (the tasks
//! statements check revocation inside their own statement; everything else,
//! Better Auth sessions included, in Rust from each process's copy).
//! Compared value by value on a real Postgres.

use gatehouse::auth::revocation::RevocationState;
use tokio_postgres::NoTls;

use crate::support::db::TestDb;
use crate::support::function::block_on;

#[test]
fn the_sql_rule_gives_the_rust_verdict_for_every_case() {
    block_on(async {
        let db = TestDb::create().await;
        db.migrate().await;
        let (client, connection) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
        tokio::spawn(connection);

        let revoked_at = [None, Some(1_700_000_000.25)];
        let not_before = [None, Some(1_700_000_100.0), Some(1_700_000_100.6)];
        let issued_at = [
            None,
            Some(1_700_000_099.0),
            Some(1_700_000_099.999),
            Some(1_700_000_100.0),
            Some(1_700_000_100.3),
            Some(1_700_000_100.9),
            Some(1_700_000_101.0),
        ];
        let mut compared = 0;
        for revoked in revoked_at {
            for cutoff in not_before {
                for issued in issued_at {
                    let state = RevocationState {
                        token_revoked_at: revoked,
                        subject_not_before: cutoff,
                    };
                    let rust = state.verdict(issued).is_some();
                    let row = client
                        .query_one(
                            "SELECT gatehouse_is_revoked($1::float8, $2::float8, $3::float8)",
                            &[&revoked, &cutoff, &issued],
                        )
                        .await
                        .unwrap();
                    let sql: bool = row.get(0);
                    assert_eq!(
                        sql, rust,
                        "revoked_at {revoked:?}, not_before {cutoff:?}, issued_at {issued:?}"
                    );
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, 2 * 3 * 7);

        // A revoked-token row counts until its own expiry, not until a purge.
        client
            .batch_execute(
                "INSERT INTO gatehouse_revoked_tokens (token_id, subject, expires_at) VALUES
                   ('jti:live', 'alice', now() + interval '1 hour'),
                   ('jti:past', 'alice', now() - interval '1 second')",
            )
            .await
            .unwrap();
        for (id, counted) in [("jti:live", true), ("jti:past", false)] {
            let row = client
                .query_one(
                    "SELECT revoked_at FROM gatehouse_revocation_state($1, 'alice')",
                    &[&id],
                )
                .await
                .unwrap();
            let revoked_at: Option<f64> = row.get(0);
            assert_eq!(revoked_at.is_some(), counted, "{id}");
        }
    });
}

/// What each process's copy reads (`gatehouse_revocation_changes`, runtime
/// migration 6): a write still running when a read is taken is read by the
/// next one once it commits, however the two interleave (a number handed
/// out before commit would be skipped); nothing is read twice; updates of a
/// cutoff (an upsert) are read again; expired tokens are not read.
#[test]
fn a_write_that_commits_after_a_read_is_read_by_the_next_one() {
    block_on(async {
        let db = TestDb::create().await;
        db.migrate().await;
        let connect = || async {
            let (client, connection) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
            tokio::spawn(connection);
            client
        };
        let (reader, mut writer) = (connect().await, connect().await);
        // (kind, key) of the rows read since `since`, and the next horizon.
        let read = |since: Option<String>| {
            let reader = &reader;
            async move {
                let rows = reader
                    .query(
                        "SELECT kind, key, horizon::text FROM gatehouse_revocation_changes($1::text::pg_snapshot)",
                        &[&since],
                    )
                    .await
                    .unwrap();
                let mut keys: Vec<String> = Vec::new();
                let mut horizon = None;
                for row in rows {
                    let kind: String = row.get(0);
                    if kind == "h" {
                        horizon = row.get(2);
                    } else {
                        keys.push(format!("{kind}:{}", row.get::<_, String>(1)));
                    }
                }
                keys.sort();
                (keys, horizon)
            }
        };
        reader
            .batch_execute(
                "INSERT INTO gatehouse_revoked_tokens (token_id, subject, expires_at) VALUES
                   ('jti:old', 's:a', now() + interval '1 hour'),
                   ('jti:expired', 's:a', now() - interval '1 second');
                 INSERT INTO gatehouse_subject_cutoffs (subject, not_before) VALUES ('s:a', now())",
            )
            .await
            .unwrap();
        let (cold, horizon) = read(None).await;
        assert_eq!(cold, ["s:s:a", "t:jti:old"]);

        // A revocation begins (its transaction has an id) before the next
        // read and commits after it.
        let tx = writer.transaction().await.unwrap();
        tx.batch_execute(
            "INSERT INTO gatehouse_revoked_tokens (token_id, subject, expires_at)
               VALUES ('jti:slow', 's:b', now() + interval '1 hour')",
        )
        .await
        .unwrap();
        // Meanwhile another commits at once, and a read runs.
        reader
            .batch_execute(
                "INSERT INTO gatehouse_revoked_tokens (token_id, subject, expires_at)
                   VALUES ('jti:fast', 's:c', now() + interval '1 hour')",
            )
            .await
            .unwrap();
        let (between, horizon) = read(horizon).await;
        assert_eq!(between, ["t:jti:fast"]);
        tx.commit().await.unwrap();

        // The next read from that horizon has the slow one.
        let (after, horizon) = read(horizon).await;
        assert_eq!(after, ["t:jti:slow"]);
        // And an upsert of a cutoff is read again.
        reader
            .batch_execute(
                "INSERT INTO gatehouse_subject_cutoffs (subject, not_before) VALUES ('s:a', now() + interval '1 second')
                 ON CONFLICT (subject) DO UPDATE SET not_before = greatest(gatehouse_subject_cutoffs.not_before, excluded.not_before)",
            )
            .await
            .unwrap();
        let (updated, horizon) = read(horizon).await;
        assert_eq!(updated, ["s:s:a"]);
        let (nothing, _) = read(horizon).await;
        assert!(nothing.is_empty(), "{nothing:?}");
    });
}
