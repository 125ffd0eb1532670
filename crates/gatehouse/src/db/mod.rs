//! Postgres: the connection string, TLS, the pool and the migrations.

pub mod error;
pub mod lazy;
pub mod migrations;
pub mod pool;
pub mod settings;
pub mod tls;
pub mod url;

pub use error::DbError;
pub use lazy::LazyDatabase;
pub use pool::{Database, Param, PoolStatus};
/// Parameter types for [`Database::query`], so routes need no direct
/// dependency on tokio-postgres.
pub use tokio_postgres::types::Type;
