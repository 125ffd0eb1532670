//! Hosts: how a request reaches [`App::handle`].
//!
//! - [`vercel`]: `vercel_runtime` 2.x, an HTTP server on `VERCEL_DEV_PORT`
//!   plus IPC frames on `VERCEL_IPC_PATH`;
//! - [`lambda`]: the Lambda Runtime API via `lambda_http`, chosen when
//!   `AWS_LAMBDA_RUNTIME_API` is set;
//! - [`dev`]: `gatehouse dev`, every route in one process.
//!
//! The same function binary runs on Vercel and on Lambda: [`serve`] picks.
//! A binary serves one route ([`serve`], a function per route) or a whole
//! route table ([`serve_routes`], one function for all routes).

pub mod dev;
mod incoming;
pub mod lambda;
mod served;
pub mod vercel;

use std::process::ExitCode;

pub use served::Served;

use crate::config::{Config, Env, Needs};
use crate::route::Route;
use crate::{App, observability};

/// The whole `main` of a function binary: read and validate configuration,
/// set up logging, pick the host, serve until told to stop.
///
/// Bad configuration does not stop the process: it serves `misconfigured`
/// problems, so the platform does not crash-loop and callers see why.
pub fn serve(route: &'static Route) -> ExitCode {
    // The route's needs are read here, where the route is the binary's
    // constant: a route needing nothing then links no database code.
    run(Served::Route(route), route.needs)
}

/// The whole `main` of one function serving every route of `routes` (one
/// Lambda behind an API Gateway proxy integration or a Function URL): each
/// request goes to the route its path names, through the same pipeline a
/// function per route runs; a path no route serves is `404
/// route_not_found`. What a route needs and the configuration lacks is
/// logged at cold start and refused on that route only.
pub fn serve_routes(routes: &'static [&'static Route]) -> ExitCode {
    let served = Served::Table(routes);
    run(served, served.prepares())
}

/// `prepare`: what the cold start prepares for ([`App::prepare`]).
fn run(served: Served, prepare: Needs) -> ExitCode {
    let env = Env::from_process();
    let config = Config::load(&env, served.needs());
    observability::init(observability::settings(&config));
    let app = App::from_config(config);
    if let Served::Table(routes) = served {
        log_incomplete_routes(&app, routes);
    }
    let result = if env.get("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda::run(app, served, prepare, &env)
    } else {
        vercel::run(app, served, prepare)
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

/// The cold-start event a function per route logs for its missing needs
/// (`configuration invalid`), for a table: which routes will answer `500
/// misconfigured`, and why, before the first request finds out.
fn log_incomplete_routes(app: &App, routes: &[&Route]) {
    let Some(state) = app.state() else {
        return; // `configuration invalid` was logged already.
    };
    let mut refused = Vec::new();
    let mut problems = Vec::new();
    for route in routes {
        let missing = state.config().missing(route.needs);
        if missing.is_empty() {
            continue;
        }
        refused.push(route.pattern);
        for problem in missing {
            if !problems.contains(&problem) {
                problems.push(problem);
            }
        }
    }
    if !refused.is_empty() {
        tracing::error!(
            target: "gatehouse::config",
            routes = %refused.join(","),
            count = problems.len(),
            problems = %serde_json::to_string(&problems).unwrap_or_default(),
            "configuration incomplete: these routes will answer 500 misconfigured until it is fixed; the others serve"
        );
    }
}
