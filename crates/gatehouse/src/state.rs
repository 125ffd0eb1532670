//! Process-wide state, built once at cold start and shared by every request
//! (Vercel serves concurrent requests from one process).

use std::sync::Arc;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::db::{Database, LazyDatabase};
use crate::error::RequestError;
use crate::outbound::Outbound;

#[derive(Debug)]
pub struct State {
    config: Config,
    database: Arc<LazyDatabase>,
    /// Built at cold start when any verifier is configured; fetches nothing
    /// until the first token needs a key.
    authenticator: Option<Authenticator>,
}

impl State {
    pub fn new(config: Config) -> Self {
        let database = Arc::new(LazyDatabase::new(config.database.clone()));
        let authenticator = config.auth.can_verify().then(|| {
            Authenticator::new(config.auth.clone(), &Outbound::shared(), database.clone())
        });
        Self {
            config,
            database,
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

    /// The pool, created on first use.
    pub fn database(&self) -> Result<Arc<Database>, RequestError> {
        self.database.get()?.ok_or_else(|| {
            RequestError::Internal(
                "a route used the database without declaring Needs::DATABASE".into(),
            )
        })
    }
}
