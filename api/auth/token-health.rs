//! `GET /api/auth/token-health`: always 200, telling a frontend whether its
//! token works here and for how long. Locally: `gatehouse dev`.

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&gatehouse_app::routes::AUTH_TOKEN_HEALTH)
}
