//! Process-wide state, built once at cold start and shared by every request
//! (Vercel serves concurrent requests from one process).

use std::sync::Arc;

use crate::auth::Authenticator;
use crate::config::{Config, Needs};
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

    /// Starts, in the background of a cold start, what the first request
    /// of a route with `needs` would otherwise wait for. A route that
    /// authenticates with revocation on reads the revocation state (which
    /// opens the pool's first connection; a request that arrives meanwhile
    /// joins that read rather than starting its own). A route that only
    /// queries gets its pool and TLS configuration built, not a connection:
    /// one opened here could not be handed to a request already waiting
    /// for its own, so it would only double the first connection.
    pub async fn prepare(&self, needs: Needs) {
        if needs.auth
            && let Some(authenticator) = &self.authenticator
            && authenticator.settings().checks_revocation()
        {
            authenticator.prepare().await;
        } else if needs.database
            && let Err(err) = self.database.get()
        {
            tracing::debug!(
                target: "gatehouse::db",
                error = %err.public_detail(),
                "the pool could not be built at cold start; the first request reports why"
            );
        }
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
