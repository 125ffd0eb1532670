//! Process-wide state, built once at cold start and shared by every request
//! (Vercel serves concurrent requests from one process).

use std::sync::{Arc, OnceLock};

use crate::auth::Authenticator;
use crate::config::Config;
use crate::db::Database;
use crate::error::RequestError;
use crate::outbound::Outbound;

#[derive(Debug)]
pub struct State {
    config: Config,
    database: OnceLock<Arc<Database>>,
    /// Built at cold start when any verifier is configured; fetches nothing
    /// until the first token needs a key.
    authenticator: Option<Authenticator>,
}

impl State {
    pub fn new(config: Config) -> Self {
        let authenticator = config
            .auth
            .can_verify()
            .then(|| Authenticator::new(config.auth.clone(), &Outbound::shared()));
        Self {
            config,
            database: OnceLock::new(),
            authenticator,
        }
    }

    pub fn authenticator(&self) -> Result<&Authenticator, RequestError> {
        self.authenticator.as_ref().ok_or_else(|| {
            RequestError::Internal("a route authenticated without declaring Needs::AUTH".into())
        })
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
}
