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
pub mod vercel;

use std::process::ExitCode;

use crate::config::{Config, Env, Needs};
use crate::route::{Route, find_route};
use crate::{App, observability};

/// What one function process serves.
#[derive(Debug, Clone, Copy)]
pub enum Served {
    /// One route, whatever the path: the platform routed the request here
    /// (a function per route).
    Route(&'static Route),
    /// Every route of a table, each request by its path (one function for
    /// all routes, behind a proxy integration or a Function URL).
    Table(&'static [&'static Route]),
}

impl Served {
    /// The route for a request path; `None` when no route of the table
    /// serves it (a 404).
    pub fn route_for(self, path: &str) -> Option<&'static Route> {
        match self {
            Served::Route(route) => Some(route),
            Served::Table(routes) => find_route(routes, path),
        }
    }

    /// What the configuration must hold for the process to serve at all. A
    /// table needs nothing of its own: each route is refused only for what
    /// it needs, so `/api/health` answers while the database is unset.
    fn needs(self) -> Needs {
        match self {
            Served::Route(route) => route.needs,
            Served::Table(_) => Needs::NONE,
        }
    }
}

/// The whole `main` of a function binary: read and validate configuration,
/// set up logging, pick the host, serve until told to stop.
///
/// Bad configuration does not stop the process: it serves `misconfigured`
/// problems, so the platform does not crash-loop and callers see why.
pub fn serve(route: &'static Route) -> ExitCode {
    run(Served::Route(route))
}

/// The whole `main` of one function serving every route of `routes` (one
/// Lambda behind an API Gateway proxy integration or a Function URL): each
/// request goes to the route its path names, through the same pipeline a
/// function per route runs; a path no route serves is `404
/// route_not_found`. What a route needs and the configuration lacks is
/// logged at cold start and refused on that route only.
pub fn serve_routes(routes: &'static [&'static Route]) -> ExitCode {
    run(Served::Table(routes))
}

fn run(served: Served) -> ExitCode {
    let env = Env::from_process();
    let config = Config::load(&env, served.needs());
    observability::init(observability::settings(&config));
    let app = App::from_config(config);
    if let Served::Table(routes) = served {
        log_incomplete_routes(&app, routes);
    }
    let result = if env.get("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda::run(app, served, &env)
    } else {
        vercel::run(app, served)
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
