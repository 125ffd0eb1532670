//! What one function process serves: one route, or a whole route table.

use crate::config::Needs;
use crate::route::{Route, find_route};

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

    /// What a cold start prepares for ([`crate::App::prepare`]): what any
    /// route served may use first.
    pub(super) fn prepares(self) -> Needs {
        match self {
            Served::Route(route) => route.needs,
            Served::Table(routes) => routes
                .iter()
                .fold(Needs::NONE, |needs, route| needs.union(route.needs)),
        }
    }

    /// What the configuration must hold for the process to serve at all. A
    /// table needs nothing of its own: each route is refused only for what
    /// it needs, so `/api/health` answers while the database is unset.
    pub(super) fn needs(self) -> Needs {
        match self {
            Served::Route(route) => route.needs,
            Served::Table(_) => Needs::NONE,
        }
    }
}
