//! The process-wide pool, built on first use.
//!
//! A function that never touches the database never connects (nor loads
//! TLS roots); the authenticator and the routes share the one pool.

use std::sync::{Arc, OnceLock};

use super::error::DbError;
use super::pool::Database;
use super::settings::DatabaseConfig;

#[derive(Debug)]
pub struct LazyDatabase {
    config: Option<DatabaseConfig>,
    pool: OnceLock<Arc<Database>>,
}

impl LazyDatabase {
    pub fn new(config: Option<DatabaseConfig>) -> Self {
        LazyDatabase {
            config,
            pool: OnceLock::new(),
        }
    }

    pub fn is_configured(&self) -> bool {
        self.config.is_some()
    }

    /// The pool; `None` when `DATABASE_URL` is not set. Must be called
    /// inside a Tokio runtime the first time (the pool starts its sweep).
    pub fn get(&self) -> Result<Option<Arc<Database>>, DbError> {
        if let Some(db) = self.pool.get() {
            return Ok(Some(db.clone()));
        }
        let Some(config) = &self.config else {
            return Ok(None);
        };
        let db = Database::new(config)?;
        // Two first requests may race to build it; one pool wins, the other
        // is dropped before it ever connected.
        Ok(Some(self.pool.get_or_init(|| db).clone()))
    }
}
