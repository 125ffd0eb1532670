//! The Gatehouse reference app: the routes this repository deploys (health,
//! `/api/auth/*`, the debug route, the OpenAPI document, the tasks API),
//! written on the runtime crate `gatehouse` with its public API only, as a
//! team writes its own. Each binary under `api/` serves one of [`routes`];
//! `gatehouse dev` serves [`routes::ROUTES`] together.

#![warn(unreachable_pub)]

pub mod migrations;
pub mod routes;
pub mod tasks;
