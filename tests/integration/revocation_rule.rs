//! One revocation rule in two languages: `RevocationState::verdict` in Rust
//! and `gatehouse_is_revoked` / `gatehouse_revocation_state` in SQL (the tasks
//! statements and the Better Auth lookup check revocation inside their own
//! statement). Compared value by value on a real Postgres.

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
