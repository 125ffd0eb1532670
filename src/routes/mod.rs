//! Our reference routes: health, `/api/auth/*`, the debug route, the
//! OpenAPI document and the tasks API. Each is a [`Route`] of the runtime,
//! built with its public API only, exactly as a team's own routes are; each
//! is served by its binary under `api/` and, all together, by `gatehouse
//! dev` ([`ROUTES`]).

mod auth;
mod debug;
mod health;
mod openapi;
mod sessions;
mod tasks;

use gatehouse::config::Needs;
use gatehouse::route::Route;
use http::Method;

pub static HEALTH: Route = Route {
    pattern: "/api/health",
    methods: &[Method::GET],
    needs: Needs::NONE,
    handler: health::liveness,
};

pub static HEALTH_DETAILED: Route = Route {
    pattern: "/api/health/detailed",
    methods: &[Method::GET],
    needs: Needs::DATABASE,
    handler: health::detailed,
};

pub static AUTH_SESSION: Route = Route {
    pattern: "/api/auth/session",
    methods: &[Method::GET],
    needs: Needs::AUTH,
    handler: auth::session,
};

pub static AUTH_TOKEN_HEALTH: Route = Route {
    pattern: "/api/auth/token-health",
    methods: &[Method::GET],
    needs: Needs::AUTH,
    handler: auth::token_health,
};

pub static AUTH_REVOKE: Route = Route {
    pattern: "/api/auth/revoke",
    methods: &[Method::POST],
    needs: Needs::AUTH_AND_DATABASE,
    handler: auth::revoke,
};

pub static AUTH_EXCHANGE: Route = Route {
    pattern: "/api/auth/exchange",
    methods: &[Method::POST],
    needs: Needs::AUTH_AND_DATABASE,
    handler: sessions::exchange,
};

pub static AUTH_LOGOUT: Route = Route {
    pattern: "/api/auth/logout",
    methods: &[Method::POST],
    needs: Needs::AUTH_AND_DATABASE,
    handler: sessions::logout,
};

pub static DEBUG_SESSION: Route = Route {
    pattern: "/api/debug/session",
    methods: &[Method::GET],
    needs: Needs::AUTH,
    handler: debug::session,
};

pub static TASKS: Route = Route {
    pattern: "/api/tasks",
    methods: &[Method::GET, Method::POST],
    needs: Needs::AUTH_AND_DATABASE,
    handler: tasks::collection,
};

pub static TASKS_ID: Route = Route {
    pattern: "/api/tasks/[id]",
    methods: &[Method::GET, Method::PATCH, Method::DELETE],
    needs: Needs::AUTH_AND_DATABASE,
    handler: tasks::item,
};

pub static OPENAPI_JSON: Route = Route {
    pattern: "/api/openapi.json",
    methods: &[Method::GET],
    needs: Needs::NONE,
    handler: openapi::document,
};

/// Every route, as served by `gatehouse dev` and built as a binary.
pub static ROUTES: &[&Route] = &[
    &HEALTH,
    &HEALTH_DETAILED,
    &AUTH_SESSION,
    &AUTH_TOKEN_HEALTH,
    &AUTH_REVOKE,
    &AUTH_EXCHANGE,
    &AUTH_LOGOUT,
    &DEBUG_SESSION,
    &TASKS,
    &TASKS_ID,
    &OPENAPI_JSON,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_its_own_pattern_and_binary() {
        let mut binaries: Vec<String> = ROUTES.iter().map(|route| route.binary_name()).collect();
        binaries.sort();
        binaries.dedup();
        assert_eq!(binaries.len(), ROUTES.len());
        assert_eq!(HEALTH_DETAILED.binary_name(), "health-detailed");
        assert_eq!(OPENAPI_JSON.source_file(), "api/openapi.json.rs");
    }
}
