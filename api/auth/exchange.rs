//! `POST /api/auth/exchange`: trades any credential this API accepts for a
//! session of its own, as an `HttpOnly` `__Host-` cookie and a bearer token.
//! Locally: `gatehouse dev`.

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&gatehouse_app::routes::AUTH_EXCHANGE)
}
