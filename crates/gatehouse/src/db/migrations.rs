//! Versioned SQL migrations, embedded in every binary.
//!
//! Applied by `gatehouse migrate` and at `gatehouse dev` start, never on a
//! request path. Each runs in one transaction under an advisory lock, so two
//! deploys migrating at once serialize instead of racing; applying them again
//! is a no-op. Checksums catch a migration edited after it shipped.

use tokio_postgres::types::Type;

use super::error::DbError;
use super::pool::Database;
use crate::secret::fingerprint;

#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// In version order. Add new files at the end; never edit a shipped one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "schema_migrations",
        sql: include_str!("../../migrations/0001_schema_migrations.sql"),
    },
    Migration {
        version: 2,
        name: "credentials",
        sql: include_str!("../../migrations/0002_credentials.sql"),
    },
    Migration {
        version: 3,
        name: "tasks_and_sessions",
        sql: include_str!("../../migrations/0003_tasks_and_sessions.sql"),
    },
    Migration {
        version: 4,
        name: "security_review",
        sql: include_str!("../../migrations/0004_security_review.sql"),
    },
];

/// Arbitrary, fixed: "gatehouse" in ASCII, truncated to fit an int8.
const LOCK_KEY: i64 = 0x6761_7465_686f_7573;

/// The version this build expects the database to be at.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this call; empty when already up to date.
    pub applied: Vec<i32>,
    pub version: i32,
}

/// Applies every pending migration. Rows stored before identities had
/// namespaces go to the `legacy` namespace; see [`apply_assuming`].
pub async fn apply(db: &Database) -> Result<MigrationReport, DbError> {
    apply_assuming(db, crate::auth::identity::LEGACY).await
}

/// Applies every pending migration; migration 4 gives rows stored with a
/// bare subject the namespace `legacy_namespace` (the deployment's only
/// user namespace, when it has one: `gatehouse migrate` works it out).
pub async fn apply_assuming(
    db: &Database,
    legacy_namespace: &str,
) -> Result<MigrationReport, DbError> {
    apply_through(db, latest_version(), legacy_namespace).await
}

/// Applies the pending migrations up to version `last` (upgrade tests stop
/// a database at an earlier version, as an older build left it).
pub async fn apply_through(
    db: &Database,
    last: i32,
    legacy_namespace: &str,
) -> Result<MigrationReport, DbError> {
    let mut conn = db.connection().await?;
    let tx = conn.transaction().await.map_err(DbError::Query)?;
    tx.query_typed(
        "SELECT pg_advisory_xact_lock($1)",
        &[(&LOCK_KEY, Type::INT8)],
    )
    .await
    .map_err(DbError::Query)?;
    // Read by migration 4 (transaction-local).
    tx.query_typed(
        "SELECT set_config('gatehouse.legacy_namespace', $1, true)",
        &[(&legacy_namespace, Type::TEXT)],
    )
    .await
    .map_err(DbError::Query)?;
    let ledger_exists: bool = tx
        .query_typed(
            "SELECT to_regclass('gatehouse_schema_migrations') IS NOT NULL",
            &[],
        )
        .await
        .map_err(DbError::Query)?
        .first()
        .is_some_and(|row| row.get(0));
    let applied: Vec<(i32, String)> = if ledger_exists {
        tx.query_typed(
            "SELECT version, checksum FROM gatehouse_schema_migrations",
            &[],
        )
        .await
        .map_err(DbError::Query)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
    } else {
        Vec::new()
    };

    let mut report = MigrationReport {
        applied: Vec::new(),
        version: 0,
    };
    for migration in MIGRATIONS.iter().filter(|m| m.version <= last) {
        let checksum = fingerprint(migration.sql.as_bytes());
        match applied
            .iter()
            .find(|(version, _)| *version == migration.version)
        {
            Some((_, recorded)) if *recorded == checksum => {}
            Some(_) => {
                return Err(DbError::MigrationChanged {
                    version: migration.version,
                    name: migration.name,
                });
            }
            None => {
                tx.batch_execute(migration.sql)
                    .await
                    .map_err(DbError::Query)?;
                tx.query_typed(
                    "INSERT INTO gatehouse_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    &[
                        (&migration.version, Type::INT4),
                        (&migration.name, Type::TEXT),
                        (&checksum, Type::TEXT),
                    ],
                )
                .await
                .map_err(DbError::Query)?;
                report.applied.push(migration.version);
            }
        }
        report.version = migration.version;
    }
    tx.commit().await.map_err(DbError::Query)?;
    if !report.applied.is_empty() {
        tracing::info!(target: "gatehouse::db", applied = ?report.applied, version = report.version, "migrations applied");
    }
    Ok(report)
}

/// The highest applied version, 0 for a database never migrated.
pub async fn current_version(db: &Database) -> Result<i32, DbError> {
    // Two statements: Postgres resolves every table name at parse time, so a
    // single query cannot mention a ledger that may not exist.
    let exists = db
        .query_opt(
            "SELECT to_regclass('gatehouse_schema_migrations') IS NOT NULL",
            &[],
        )
        .await?
        .is_some_and(|row| row.get::<_, bool>(0));
    if !exists {
        return Ok(0);
    }
    let row = db
        .query_opt(
            "SELECT coalesce(max(version), 0) FROM gatehouse_schema_migrations",
            &[],
        )
        .await?;
    Ok(row.map_or(0, |row| row.get(0)))
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::MIGRATIONS;

    /// Every migration that has landed on `main`, with the SHA-256 of its
    /// file. A database that applied one records its checksum and refuses
    /// to start when the file later differs (`migration_changed`), so a
    /// landed migration is never edited: write a new one. Pin a new
    /// migration here in the change that adds it.
    const RELEASED: &[(i32, &str, &str)] = &[
        (
            1,
            "schema_migrations",
            "035daa695cef78b4098d677b187ca8fdb03daa006c29a46eec78a6d5cb8cb4f8",
        ),
        (
            2,
            "credentials",
            "633c63f7b64a65cd090422f4e2aa50662d6ae1cef6f7f5aebe7f812b4a601841",
        ),
        (
            3,
            "tasks_and_sessions",
            "53504224a1928f4092d73d3c1d2daeda34eb2ca03af0e0e66ca6b0d24552ebaf",
        ),
        (
            4,
            "security_review",
            "fd5e536f9d2dd942f37bc2128a065ac6de48802d54140875dc1b6561bf7b340e",
        ),
    ];

    fn sha256_hex(text: &str) -> String {
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    #[test]
    fn released_migrations_never_change() {
        for (version, name, pinned) in RELEASED {
            let migration = MIGRATIONS
                .iter()
                .find(|m| m.version == *version)
                .unwrap_or_else(|| panic!("released migration {version} ({name}) was removed"));
            assert_eq!(migration.name, *name, "migration {version} was renamed");
            assert_eq!(
                sha256_hex(migration.sql),
                *pinned,
                "migration {version} ({name}) changed after it landed: databases that applied it \
                 will refuse to start; revert the edit and put the change in a new migration"
            );
        }
    }

    #[test]
    fn versions_are_consecutive_and_every_one_is_pinned() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i32 + 1, "gap or reorder");
            assert!(
                RELEASED
                    .iter()
                    .any(|(version, ..)| *version == migration.version),
                "migration {} ({}) is not pinned in RELEASED: add its SHA-256 there",
                migration.version,
                migration.name
            );
        }
    }
}
