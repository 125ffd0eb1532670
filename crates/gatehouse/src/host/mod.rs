//! Hosts: how a request reaches [`App::handle`].
//!
//! - [`vercel`]: `vercel_runtime` 2.x, an HTTP server on `VERCEL_DEV_PORT`
//!   plus IPC frames on `VERCEL_IPC_PATH`;
//! - [`lambda`]: the Lambda Runtime API via `lambda_http`, chosen when
//!   `AWS_LAMBDA_RUNTIME_API` is set;
//! - [`dev`]: `gatehouse dev`, every route in one process.
//!
//! The same function binary runs on Vercel and on Lambda: [`serve`] picks.

pub mod dev;
mod incoming;
pub mod lambda;
pub mod vercel;

use std::process::ExitCode;

use crate::config::{Config, Env};
use crate::route::Route;
use crate::{App, observability};

/// The whole `main` of a function binary: read and validate configuration,
/// set up logging, pick the host, serve until told to stop.
///
/// Bad configuration does not stop the process: it serves `misconfigured`
/// problems, so the platform does not crash-loop and callers see why.
pub fn serve(route: &'static Route) -> ExitCode {
    let env = Env::from_process();
    let config = Config::load(&env, route.needs);
    observability::init(observability::settings(&config));
    let app = App::from_config(config);
    let result = if env.get("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda::run(app, route, &env)
    } else {
        vercel::run(app, route)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(target: "gatehouse::host", error = %err, "function could not serve");
            eprintln!("gatehouse: {err}");
            ExitCode::FAILURE
        }
    }
}
