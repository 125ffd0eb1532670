//! The development database: `gatehouse dev` and `gatehouse migrate` create
//! the database `DATABASE_URL` names when it does not exist yet, so a fresh
//! clone works with `.env.example` (`gatehouse_dev`) and never puts its
//! tables in the shared `postgres` maintenance database.
//!
//! Development only: in production or preview a missing database means a
//! wrong `DATABASE_URL`, and creating one would hide it.

use gatehouse::config::{DatabaseConfig, Environment};
use gatehouse::db::{Database, DbError};
use tokio_postgres::error::SqlState;

/// Creates the database `settings` names when the server says it does not
/// exist and `environment` is development. Returns its name when created.
pub async fn create_if_missing(
    settings: &DatabaseConfig,
    environment: Environment,
) -> Result<Option<String>, DbError> {
    if environment != Environment::Development {
        return Ok(None);
    }
    let target = Database::new(settings)?;
    let probe = target.connection().await.map(drop);
    target.close();
    match probe {
        Ok(()) => return Ok(None),
        Err(err) if err.is_database_missing() => {}
        Err(err) => return Err(err),
    }
    let name = settings.url.database_name().to_owned();
    let maintenance = DatabaseConfig {
        url: settings.url.with_database("postgres"),
        ..settings.clone()
    };
    let server = Database::new(&maintenance)?;
    let outcome = create(&server, &name).await;
    server.close();
    outcome
}

async fn create(server: &Database, name: &str) -> Result<Option<String>, DbError> {
    let client = server.connection().await?;
    // An identifier, not a value: quoted, `"` doubled.
    let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match client.batch_execute(&statement).await {
        Ok(()) => Ok(Some(name.to_owned())),
        // Another `gatehouse dev` created it first.
        Err(err) if err.code() == Some(&SqlState::DUPLICATE_DATABASE) => Ok(None),
        Err(err) => Err(DbError::Query(err)),
    }
}
