//! The pool's settings, read from `DATABASE_*` by the configuration loader.

use std::time::Duration;

use super::url::DatabaseUrl;

/// The database settings; present when `DATABASE_URL` is set.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    pub pool_max: usize,
    pub idle_timeout: Duration,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
}
