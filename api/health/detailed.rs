//! `GET /api/health/detailed`: configuration, database round trip, pool and
//! schema version; 503 naming the dependency that is down.
//! Locally: `cargo run --bin health-detailed` or `gatehouse dev`.

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&gatehouse_app::routes::HEALTH_DETAILED)
}
