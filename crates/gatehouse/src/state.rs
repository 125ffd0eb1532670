//! Process-wide state, built once at cold start and shared by every request
//! (Vercel serves concurrent requests from one process).

use std::sync::{Arc, OnceLock};

use crate::config::Config;
use crate::db::Database;
use crate::error::RequestError;

#[derive(Debug)]
pub struct State {
    config: Config,
    database: OnceLock<Arc<Database>>,
}

impl State {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            database: OnceLock::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The pool, created on first use so a function that never touches the
    /// database never connects (nor loads TLS roots).
    pub fn database(&self) -> Result<Arc<Database>, RequestError> {
        if let Some(db) = self.database.get() {
            return Ok(db.clone());
        }
        let Some(settings) = &self.config.database else {
            return Err(RequestError::Internal(
                "a route used the database without declaring Needs::DATABASE".into(),
            ));
        };
        let db = Database::new(settings)?;
        // Two first requests may race to build it; one pool wins, the other
        // is dropped before it ever connected.
        Ok(self.database.get_or_init(|| db).clone())
    }

    /// The pool if it was already created (health reporting, shutdown).
    pub fn database_if_started(&self) -> Option<&Arc<Database>> {
        self.database.get()
    }
}
