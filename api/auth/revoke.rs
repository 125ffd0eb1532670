//! `POST /api/auth/revoke`: revokes the presented credential, or with
//! `{"all": true}` every credential of the caller. Locally: `gatehouse dev`.

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&gatehouse_app::routes::AUTH_REVOKE)
}
