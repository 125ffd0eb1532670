//! Gatehouse: the shared core of a set of serverless functions.
//!
//! Every binary under `api/` is a few lines that hand one [`routes::Route`] to
//! [`host::serve`]. Everything else lives here, so the functions, the local dev
//! server and the `gatehouse` CLI run the same code:
//!
//! - [`config`]: the environment, read once and validated at cold start;
//! - [`db`]: the process-wide, serverless-safe Postgres pool and the migrations;
//! - [`host`]: the adapters for Vercel, AWS Lambda and `gatehouse dev`;
//! - [`pipeline`]: what happens to every request, whatever the host;
//! - [`error`] and [`http::problem`]: the one place failures become HTTP responses.

pub mod auth;
pub mod bounded_cache;
pub mod config;
pub mod db;
pub mod error;
pub mod host;
pub mod http;
pub mod observability;
pub mod outbound;
pub mod pipeline;
pub mod routes;
pub mod secret;
pub mod single_flight;
pub mod state;
pub mod tasks;

pub use config::{Config, Environment, Needs};
pub use error::{Reason, RequestError, StartupError};
pub use pipeline::App;
pub use routes::Route;
pub use state::State;

/// The crate version, reported by `/api/health/detailed`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
