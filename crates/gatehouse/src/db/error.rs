//! Why a database operation failed, classified for the one mapping to a
//! response (`schema_outdated`, `database_unavailable`) and for logs that
//! never show a password or connection string.

use std::time::Duration;

use tokio_postgres::error::SqlState;

/// A database failure. `Display` is for logs; [`DbError::public_detail`] is
/// what a response may show. Neither contains a password or connection string.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not connect to {target} within {timeout:?}")]
    ConnectTimeout { target: String, timeout: Duration },
    #[error("could not connect to {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("no free connection within {timeout:?}: all {max} are in use")]
    PoolExhausted { max: usize, timeout: Duration },
    #[error("a query ran past the statement timeout of {timeout:?} and was cancelled")]
    StatementTimeout { timeout: Duration },
    #[error("query failed: {}", describe(.0))]
    Query(#[source] tokio_postgres::Error),
    /// A table, column or function this build uses does not exist: the
    /// database was never migrated, or is older than this build.
    #[error("the database schema is older than this build: {}", describe(.0))]
    SchemaMissing(#[source] tokio_postgres::Error),
    #[error("TLS could not be set up: {0}")]
    Tls(String),
    #[error(
        "{component} migration {version} ({name}) differs from the one applied to this database"
    )]
    MigrationChanged {
        component: &'static str,
        version: i32,
        name: &'static str,
    },
    #[error(
        "the database's {component} migrations are at version {found}, but this build expects {expected}"
    )]
    SchemaBehind {
        component: &'static str,
        found: i32,
        expected: i32,
    },
}

impl DbError {
    /// A failed statement, classified by SQLSTATE (never by message text): a
    /// missing table, column or function means migrations have not run, and
    /// is [`DbError::SchemaMissing`], answered `schema_outdated` with the fix.
    pub fn query(err: tokio_postgres::Error) -> DbError {
        const MISSING: [SqlState; 4] = [
            SqlState::UNDEFINED_TABLE,
            SqlState::UNDEFINED_COLUMN,
            SqlState::UNDEFINED_FUNCTION,
            SqlState::UNDEFINED_OBJECT,
        ];
        if err.code().is_some_and(|code| MISSING.contains(code)) {
            DbError::SchemaMissing(err)
        } else {
            DbError::Query(err)
        }
    }

    /// Whether the server answered that the database named by
    /// `DATABASE_URL` does not exist (SQLSTATE 3D000).
    pub fn is_database_missing(&self) -> bool {
        matches!(self, DbError::Connect { source, .. }
            if source.code() == Some(&SqlState::INVALID_CATALOG_NAME))
    }

    /// Whether this failure means the schema lags this build: answered
    /// `schema_outdated`, fixed by `gatehouse migrate`.
    pub fn is_schema_outdated(&self) -> bool {
        matches!(
            self,
            DbError::SchemaMissing(_)
                | DbError::MigrationChanged { .. }
                | DbError::SchemaBehind { .. }
        )
    }

    /// Safe for any response, production included.
    pub fn public_detail(&self) -> String {
        match self {
            DbError::ConnectTimeout { timeout, .. } => {
                format!("the database did not accept a connection within {timeout:?}")
            }
            DbError::Connect { .. } => "the database refused or dropped the connection".to_owned(),
            DbError::PoolExhausted { timeout, .. } => {
                format!("every database connection stayed busy for {timeout:?}")
            }
            DbError::StatementTimeout { timeout } => {
                format!("a database query ran past {timeout:?}")
            }
            DbError::Query(_) => "a database query failed".to_owned(),
            DbError::Tls(_) => "the TLS connection to the database could not be set up".to_owned(),
            DbError::SchemaMissing(_)
            | DbError::MigrationChanged { .. }
            | DbError::SchemaBehind { .. } => {
                "the database schema does not match this build".to_owned()
            }
        }
    }

    /// The likely fix, shown outside production.
    pub fn hint(&self) -> String {
        match self {
            DbError::ConnectTimeout { target, .. } => format!(
                "check that Postgres at {target} is running and reachable from here, or raise DATABASE_CONNECT_TIMEOUT_SECS"
            ),
            DbError::Connect { target, source } => match source.code() {
                Some(code) if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                    format!("Postgres at {target} rejected the user or password in DATABASE_URL")
                }
                Some(code) if *code == SqlState::INVALID_CATALOG_NAME => {
                    format!("the database named in DATABASE_URL does not exist on {target}: create it (`createdb <name>`; in development `gatehouse dev` and `gatehouse migrate` do) or fix the name")
                }
                _ => format!("check that Postgres at {target} is running and that DATABASE_URL is right"),
            },
            DbError::PoolExhausted { .. } => {
                "raise DATABASE_POOL_MAX or find what holds connections for long".to_owned()
            }
            DbError::StatementTimeout { .. } => {
                "the query is slow or blocked by a lock; raise DATABASE_STATEMENT_TIMEOUT_SECS only if it is expected".to_owned()
            }
            DbError::Query(_) => "see the log under this request id".to_owned(),
            DbError::Tls(_) => {
                "check sslmode and sslrootcert in DATABASE_URL; providers with a private CA need sslrootcert=/path/to/ca.pem".to_owned()
            }
            DbError::SchemaMissing(_)
            | DbError::MigrationChanged { .. }
            | DbError::SchemaBehind { .. } => {
                "run `gatehouse migrate` against this database (DATABASE_URL) before serving this build".to_owned()
            }
        }
    }
}

/// A statement's failure for the log: tokio-postgres says only "db error",
/// the SQLSTATE and the server's message say what happened. The message is
/// kept only for class 42 (syntax or access rule: it names the missing
/// relation or function); other messages may quote a parameter's value.
fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) if db.code().code().starts_with("42") => {
            format!("SQLSTATE {} ({})", db.code().code(), db.message())
        }
        Some(db) => format!("SQLSTATE {}", db.code().code()),
        None => err.to_string(),
    }
}
