//! `POST /api/auth/logout`: ends the current session of this API, or with
//! `?all=true` every session of the caller. Locally: `gatehouse dev`.

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&gatehouse_app::routes::AUTH_LOGOUT)
}
