//! Versioned SQL migrations, embedded in every binary.
//!
//! The history is made of components, applied in order: the runtime's own
//! ([`RUNTIME`]: credentials, revocation, sessions) first, then each app's
//! (a team's tables, our reference app's tasks), each numbered from 1 and
//! recorded in one ledger by component. Applied by `gatehouse migrate` and at
//! `gatehouse dev` start, never on a request path. Everything runs in one
//! transaction under an advisory lock, so two deploys migrating at once
//! serialize instead of racing; applying them again is a no-op. Checksums
//! catch a migration edited after it shipped.

use std::fmt;

use tokio_postgres::types::Type;

use super::error::DbError;
use super::pool::Database;
use crate::secret::fingerprint;

#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
    /// Released before a later migration of its component replaced it: it
    /// runs only on a database that applied an earlier migration of the
    /// component and none after it (one an older build left), so that
    /// database is upgraded through the same steps it would have taken. A
    /// fresh database skips it and gets the same end state from its
    /// replacement.
    pub upgrade_only: bool,
}

/// One component's migrations, in version order from 1. Add new files at
/// the end; never edit a shipped one (a database that applied it refuses
/// the changed file, `migration_changed`).
///
/// ```
/// use gatehouse::db::migrations::{Component, Migration};
///
/// pub const APP: Component = Component {
///     name: "app",
///     migrations: &[Migration {
///         version: 1,
///         name: "orders",
///         sql: "CREATE TABLE orders (id uuid PRIMARY KEY, owner text NOT NULL)",
///         upgrade_only: false,
///     }],
/// };
/// assert_eq!(APP.latest_version(), 1);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Component {
    /// Its name in the ledger: `gatehouse` is the runtime's.
    pub name: &'static str,
    pub migrations: &'static [Migration],
}

impl Component {
    /// The version this build expects the database to be at.
    pub const fn latest_version(&self) -> i32 {
        match self.migrations.last() {
            Some(last) => last.version,
            None => 0,
        }
    }
}

/// The runtime's own tables: API keys, revocations, profiles, sessions.
pub const RUNTIME: Component = Component {
    name: "gatehouse",
    migrations: &[
        Migration {
            version: 1,
            name: "schema_migrations",
            sql: include_str!("../../migrations/0001_schema_migrations.sql"),
            upgrade_only: false,
        },
        Migration {
            version: 2,
            name: "credentials",
            sql: include_str!("../../migrations/0002_credentials.sql"),
            upgrade_only: false,
        },
        // 3 and 4 also created the reference app's tables; 5 replaced them.
        Migration {
            version: 3,
            name: "tasks_and_sessions",
            sql: include_str!("../../migrations/0003_tasks_and_sessions.sql"),
            upgrade_only: true,
        },
        Migration {
            version: 4,
            name: "security_review",
            sql: include_str!("../../migrations/0004_security_review.sql"),
            upgrade_only: true,
        },
        Migration {
            version: 5,
            name: "runtime_and_app_apart",
            sql: include_str!("../../migrations/0005_runtime_and_app_apart.sql"),
            upgrade_only: false,
        },
        Migration {
            version: 6,
            name: "revocation_changes",
            sql: include_str!("../../migrations/0006_revocation_changes.sql"),
            upgrade_only: false,
        },
        Migration {
            version: 7,
            name: "better_auth_session_lookup",
            sql: include_str!("../../migrations/0007_better_auth_session_lookup.sql"),
            upgrade_only: false,
        },
    ],
};

/// Arbitrary, fixed: "gatehouse" in ASCII, truncated to fit an int8.
const LOCK_KEY: i64 = 0x6761_7465_686f_7573;

/// One migration applied by a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub component: &'static str,
    pub version: i32,
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.component, self.version)
    }
}

/// Where one component stands in a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentVersion {
    pub component: &'static str,
    /// The highest applied version, 0 when none.
    pub version: i32,
    /// What this build expects.
    pub expected: i32,
}

impl ComponentVersion {
    pub fn is_current(&self) -> bool {
        self.version >= self.expected
    }
}

impl fmt::Display for ComponentVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.component, self.version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Applied by this call, in order; empty when already up to date.
    pub applied: Vec<Applied>,
    /// Every component's version after the call, the runtime's first.
    pub versions: Vec<ComponentVersion>,
}

/// The runtime's history followed by the apps'.
fn history<'a>(apps: &'a [&'a Component]) -> impl Iterator<Item = &'a Component> {
    std::iter::once(&RUNTIME).chain(apps.iter().copied())
}

/// Applies every pending migration of the runtime, then of `apps` in order.
/// Rows stored before identities had namespaces go to the `legacy`
/// namespace; see [`apply_assuming`].
pub async fn apply(db: &Database, apps: &[&Component]) -> Result<MigrationReport, DbError> {
    apply_assuming(db, apps, crate::auth::identity::LEGACY).await
}

/// Applies every pending migration; the runtime's migration 4 gives rows
/// stored with a bare subject the namespace `legacy_namespace` (the
/// deployment's only user namespace, when it has one: `gatehouse migrate`
/// works it out).
pub async fn apply_assuming(
    db: &Database,
    apps: &[&Component],
    legacy_namespace: &str,
) -> Result<MigrationReport, DbError> {
    run(db, apps, legacy_namespace, Plan::Current).await
}

/// Applies the runtime's migrations 1 to `last` as the build that released
/// them did (every one, upgrade-only included, no app): upgrade tests start
/// from the database an older build left.
pub async fn apply_as_released(db: &Database, last: i32) -> Result<MigrationReport, DbError> {
    run(db, &[], "unused", Plan::AsReleased { last }).await
}

#[derive(Debug, Clone, Copy)]
enum Plan {
    Current,
    AsReleased { last: i32 },
}

/// A ledger row.
#[derive(Debug)]
struct Recorded {
    component: String,
    version: i32,
    checksum: String,
}

async fn run(
    db: &Database,
    apps: &[&Component],
    legacy_namespace: &str,
    plan: Plan,
) -> Result<MigrationReport, DbError> {
    let mut conn = db.connection().await?;
    let tx = conn.transaction().await.map_err(DbError::Query)?;
    tx.query_typed(
        "SELECT pg_advisory_xact_lock($1)",
        &[(&LOCK_KEY, Type::INT8)],
    )
    .await
    .map_err(DbError::Query)?;
    // Read by the runtime's migration 4 (transaction-local).
    tx.query_typed(
        "SELECT set_config('gatehouse.legacy_namespace', $1, true)",
        &[(&legacy_namespace, Type::TEXT)],
    )
    .await
    .map_err(DbError::Query)?;
    let mut recorded = ledger(&*tx).await?;
    // Whether a component is being upgraded is a property of the database
    // as this run found it, not of what the run has applied so far.
    let found: Vec<(String, i32)> = recorded
        .iter()
        .map(|r| (r.component.clone(), r.version))
        .collect();

    let mut report = MigrationReport {
        applied: Vec::new(),
        versions: Vec::new(),
    };
    for component in history(apps) {
        for migration in component.migrations {
            if let Plan::AsReleased { last } = plan
                && migration.version > last
            {
                break;
            }
            let checksum = fingerprint(migration.sql.as_bytes());
            let mine = || recorded.iter().filter(|r| r.component == component.name);
            if let Some(row) = mine().find(|r| r.version == migration.version) {
                if row.checksum != checksum {
                    return Err(DbError::MigrationChanged {
                        component: component.name,
                        version: migration.version,
                        name: migration.name,
                    });
                }
                continue;
            }
            let mut found_here = found.iter().filter(|(c, _)| c == component.name).peekable();
            let upgrading = found_here.peek().is_some()
                && found_here.all(|(_, version)| *version < migration.version);
            if migration.upgrade_only && matches!(plan, Plan::Current) && !upgrading {
                continue;
            }
            tx.batch_execute(migration.sql)
                .await
                .map_err(DbError::Query)?;
            // The runtime's rows leave `component` to its default: the
            // column exists only from the runtime's migration 5 on, and
            // apps run after the runtime's last.
            let (sql, params): (
                &str,
                Vec<(&(dyn tokio_postgres::types::ToSql + Sync), Type)>,
            ) = if component.name == RUNTIME.name {
                (
                    "INSERT INTO gatehouse_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    vec![
                        (&migration.version, Type::INT4),
                        (&migration.name, Type::TEXT),
                        (&checksum, Type::TEXT),
                    ],
                )
            } else {
                (
                    "INSERT INTO gatehouse_schema_migrations (component, version, name, checksum) VALUES ($1, $2, $3, $4)",
                    vec![
                        (&component.name, Type::TEXT),
                        (&migration.version, Type::INT4),
                        (&migration.name, Type::TEXT),
                        (&checksum, Type::TEXT),
                    ],
                )
            };
            tx.query_typed(sql, &params).await.map_err(DbError::Query)?;
            recorded.push(Recorded {
                component: component.name.to_owned(),
                version: migration.version,
                checksum,
            });
            report.applied.push(Applied {
                component: component.name,
                version: migration.version,
            });
        }
    }
    tx.commit().await.map_err(DbError::Query)?;
    report.versions = versions(&recorded, apps);
    if !report.applied.is_empty() {
        let applied: Vec<String> = report.applied.iter().map(ToString::to_string).collect();
        tracing::info!(target: "gatehouse::db", applied = ?applied, "migrations applied");
    }
    Ok(report)
}

/// Every ledger row; none when the ledger does not exist yet.
async fn ledger(client: &impl tokio_postgres::GenericClient) -> Result<Vec<Recorded>, DbError> {
    // Postgres resolves every table name at parse time, so a single query
    // cannot mention a ledger that may not exist; `component` is read
    // through to_jsonb because ledgers before the runtime's migration 5 do
    // not have the column (their rows are all the runtime's).
    let exists = client
        .query_typed(
            "SELECT to_regclass('gatehouse_schema_migrations') IS NOT NULL",
            &[],
        )
        .await
        .map_err(DbError::Query)?
        .first()
        .is_some_and(|row| row.get(0));
    if !exists {
        return Ok(Vec::new());
    }
    let rows = client
        .query_typed(
            "SELECT coalesce(to_jsonb(m)->>'component', 'gatehouse'), version, checksum \
             FROM gatehouse_schema_migrations m",
            &[],
        )
        .await
        .map_err(DbError::Query)?;
    Ok(rows
        .iter()
        .map(|row| Recorded {
            component: row.get(0),
            version: row.get(1),
            checksum: row.get(2),
        })
        .collect())
}

fn versions(recorded: &[Recorded], apps: &[&Component]) -> Vec<ComponentVersion> {
    history(apps)
        .map(|component| ComponentVersion {
            component: component.name,
            version: recorded
                .iter()
                .filter(|r| r.component == component.name)
                .map(|r| r.version)
                .max()
                .unwrap_or(0),
            expected: component.latest_version(),
        })
        .collect()
}

/// Where the runtime and each of `apps` stand in this database (version 0:
/// never migrated).
pub async fn versions_in(
    db: &Database,
    apps: &[&Component],
) -> Result<Vec<ComponentVersion>, DbError> {
    let conn = db.connection().await?;
    let client: &tokio_postgres::Client = &conn;
    let recorded = ledger(client).await?;
    Ok(versions(&recorded, apps))
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::RUNTIME;

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
        (
            5,
            "runtime_and_app_apart",
            "fb36c30504ce199c0b1b10d564f00b358de83e3e7ee53c049a220af85eacbadc",
        ),
        (
            6,
            "revocation_changes",
            "31523493ec521c3ca39f6e62ca17ec048241b634240561361499c0536bf560e6",
        ),
        (
            7,
            "better_auth_session_lookup",
            "6a7a2165394d18f8a08bd5b306ed0c390c3769712cfb3b8b88a5a27f685f7615",
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
            let migration = RUNTIME
                .migrations
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
        for (index, migration) in RUNTIME.migrations.iter().enumerate() {
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
