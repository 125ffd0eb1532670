//! `GET /api/debug/session`: which credentials arrived and what this
//! deployment made of them, never their values. Development and preview
//! (`DEBUG_ENDPOINTS=true`) only, or an API key with the `admin` scope.

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&gatehouse_app::routes::DEBUG_SESSION)
}
