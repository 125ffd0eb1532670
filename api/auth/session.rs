//! `GET /api/auth/session`: the authenticated principal, or a 401 that says
//! exactly why not. Locally: `gatehouse dev`.

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&gatehouse_app::routes::AUTH_SESSION)
}
