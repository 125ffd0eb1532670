//! Gatehouse: the runtime of a set of serverless functions, on Vercel and
//! AWS Lambda and locally under `gatehouse dev`.
//!
//! A function is a [`Route`] (see [`route`] for a complete one) handed to
//! [`host::serve`] by a few-line binary under `api/`. The runtime holds no
//! routes of its own: the reference app's live outside it, on this public
//! API, as a team's own do. What every route gets from here:
//!
//! - [`route`]: the [`Route`] and the [`route::Ctx`] its handler gets
//!   (principal, database, params, body checks);
//! - [`config`]: the environment, read once and validated at cold start;
//! - [`db`]: the process-wide, serverless-safe Postgres pool and the migrations;
//! - [`host`]: the adapters for Vercel, AWS Lambda and `gatehouse dev`;
//! - [`pipeline`]: what happens to every request, whatever the host;
//! - [`error`] and [`http::problem`]: the one place failures become HTTP responses.

#![warn(unreachable_pub)]

pub mod auth;
pub(crate) mod bounded_cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod host;
pub mod http;
pub mod observability;
pub mod outbound;
pub mod pipeline;
pub mod reason;
pub mod route;
pub mod secret;
pub(crate) mod single_flight;
pub mod state;

pub use config::{Config, Environment, Needs};
pub use error::{Reason, RequestError, StartupError};
pub use pipeline::App;
pub use route::{Ctx, Route};
pub use state::State;

/// The crate version, reported by `/api/health/detailed`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
